// Where secrets come from: files named in the config or the LSPO_* environment (env wins), trimmed, never
// the config itself; a missing secret file or half a TLS pair is an error naming the key.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { busOptionsFor, grpcSecurityFrom } from "@lspo/actors";
import { ConfigError, resolveConfig } from "@lspo/config";

const dir = mkdtempSync(join(tmpdir(), "lspo-secrets-unit-"));
const file = (name: string, content: string) => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};

describe("security - secrets from files and env", () => {
  it("NATS: password and token from the config's files, env over config, trimmed", () => {
    const config = resolveConfig({ nats: { url: "tls://nats:4222", user: "learner", passwordFile: file("pw", "from-file\n"), tlsCa: "/ca.crt" } });
    expect(busOptionsFor(config, "learner-0", {})).toMatchObject({ url: "tls://nats:4222", user: "learner", password: "from-file", tlsCa: "/ca.crt", name: "learner-0" });
    const env = { LSPO_NATS_URL: "tls://other:4222", LSPO_NATS_USER: "sampler", LSPO_NATS_PASSWORD_FILE: file("pw2", "  from-env  \n"), LSPO_NATS_TOKEN_FILE: file("tok", "t0k\n") };
    expect(busOptionsFor(config, "x", env)).toMatchObject({ url: "tls://other:4222", user: "sampler", password: "from-env", token: "t0k" });
  });

  it("NATS: a secret file that is not there names the key and the file; no URL is an error naming where to set one", () => {
    const config = resolveConfig({ nats: { url: "nats://n:4222", passwordFile: join(dir, "missing") } });
    expect(() => busOptionsFor(config, "x", {})).toThrow(ConfigError);
    expect(() => busOptionsFor(config, "x", {})).toThrow(/nats\.passwordFile: cannot read secret file .*missing/);
    expect(() => busOptionsFor(resolveConfig({}), "rollout-0", {})).toThrow(/rollout-0: no NATS URL \(set nats\.url in the config or LSPO_NATS_URL\)/);
  });

  it("NATS: credentials inside nats.url are refused (they would be logged and saved with the run)", () => {
    expect(() => resolveConfig({ nats: { url: "nats://lspo:hunter2@nats:4222" } })).toThrow(/nats\.url: credentials in the URL/);
    expect(resolveConfig({ nats: { url: "tls://nats.lspo.svc:4222" } }).nats.url).toBe("tls://nats.lspo.svc:4222");
  });

  it("gRPC: TLS pair and CA (mutual TLS) and the token, config or env, for serving and calling alike", () => {
    const security = resolveConfig({ security: { grpcTlsCert: "/c.crt", grpcTlsKey: "/c.key", grpcTlsCa: "/ca.crt", grpcTokenFile: file("grpc", "s3cret\n") } }).security;
    expect(grpcSecurityFrom(security, {})).toEqual({
      server: { tls: { cert: "/c.crt", key: "/c.key", ca: "/ca.crt" }, controlToken: "s3cret" },
      client: { tlsCa: "/ca.crt", tlsCert: "/c.crt", tlsKey: "/c.key", token: "s3cret" },
    });
    const env = { LSPO_GRPC_TLS_CERT: "/e.crt", LSPO_GRPC_TLS_KEY: "/e.key", LSPO_GRPC_TOKEN_FILE: file("grpc2", "from-env") };
    expect(grpcSecurityFrom(resolveConfig({}).security, env)).toEqual({
      server: { tls: { cert: "/e.crt", key: "/e.key", ca: undefined }, controlToken: "from-env" },
      client: { tlsCa: undefined, tlsCert: "/e.crt", tlsKey: "/e.key", token: "from-env" },
    });
    // Security off: plaintext, no token.
    expect(grpcSecurityFrom(resolveConfig({}).security, {})).toEqual({ server: { tls: undefined, controlToken: undefined }, client: { tlsCa: undefined, tlsCert: undefined, tlsKey: undefined, token: undefined } });
  });

  it("gRPC: half a TLS pair names both keys", () => {
    expect(() => grpcSecurityFrom(resolveConfig({ security: { grpcTlsCert: "/c.crt" } }).security, {})).toThrow(
      /security\.grpcTlsCert \(LSPO_GRPC_TLS_CERT\) is set, security\.grpcTlsKey \(LSPO_GRPC_TLS_KEY\) is missing/,
    );
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { LSPO_GRPC_TOKEN_FILE: join(dir, "absent") })).toThrow(/security\.grpcTokenFile: cannot read secret file/);
  });
});
