// Where secrets come from: files named in the config or the LSPO_* environment (env wins), trimmed, never
// the config itself; a missing secret file or half a TLS pair is an error naming the key.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { busOptionsFor, grpcSecurityFrom, identityInSan, registryIdentityOf, tokenDigest } from "@lspo/actors";
import { ConfigError, resolveConfig } from "@lspo/config";
import { makeIdentityCert, makePki } from "./support/pki.js";

const pki = makePki();

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
    // A certificate that names no lspo identity (makePki's): one shared token, no per-identity checks.
    const security = resolveConfig({ security: { grpcTlsCert: pki.serverCert, grpcTlsKey: pki.serverKey, grpcTlsCa: pki.ca, grpcTokenFile: file("grpc", "s3cret\n") } }).security;
    expect(grpcSecurityFrom(security, {})).toEqual({
      server: { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca }, controlToken: "s3cret", tokenDigests: undefined },
      client: { tlsCa: pki.ca, tlsCert: pki.serverCert, tlsKey: pki.serverKey, token: "s3cret", tlsServerName: undefined, identity: undefined },
    });
    const env = { LSPO_GRPC_TLS_CERT: pki.clientCert, LSPO_GRPC_TLS_KEY: pki.clientKey, LSPO_GRPC_TOKEN_FILE: file("grpc2", "from-env") };
    expect(grpcSecurityFrom(resolveConfig({}).security, env)).toMatchObject({
      server: { tls: { cert: pki.clientCert, key: pki.clientKey, ca: undefined }, controlToken: "from-env" },
      client: { tlsCa: undefined, tlsCert: pki.clientCert, tlsKey: pki.clientKey, token: "from-env" },
    });
    // Security off: plaintext, no token.
    expect(grpcSecurityFrom(resolveConfig({}).security, {})).toMatchObject({ server: { tls: undefined, controlToken: undefined }, client: { tlsCa: undefined, tlsCert: undefined, tlsKey: undefined, token: undefined } });
  });

  it("gRPC identities: the certificate's spiffe://lspo/<identity> names the process, the digests file turns on per-identity checks", () => {
    const id = makeIdentityCert("learner", pki);
    const digests = file("digests", `# made by make-secrets\nlearner ${tokenDigest("t-learner")}\ncontroller ${tokenDigest("t-controller")}\n`);
    const env = { LSPO_GRPC_TLS_CERT: id.cert, LSPO_GRPC_TLS_KEY: id.key, LSPO_GRPC_TLS_CA: pki.ca, LSPO_GRPC_TOKEN_DIGESTS_FILE: digests };
    const sec = grpcSecurityFrom(resolveConfig({}).security, env);
    expect(sec.client.identity).toBe("learner");
    expect([...sec.server.tokenDigests!.keys()]).toEqual(["learner", "controller"]);
    expect(sec.server.tokenDigests!.get("controller")!.toString("hex")).toBe(tokenDigest("t-controller"));
    // Digests need a certificate that names an identity, and mutual TLS.
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { ...env, LSPO_GRPC_TLS_CERT: pki.serverCert, LSPO_GRPC_TLS_KEY: pki.serverKey })).toThrow(/names none/);
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { ...env, LSPO_GRPC_TLS_CA: "" })).toThrow(/need mutual TLS/);
    // A bad line names its file and line; an unknown identity is refused; a missing file names the key.
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { ...env, LSPO_GRPC_TOKEN_DIGESTS_FILE: file("bad", `learner ${tokenDigest("x")}\nlearner nothex\n`) })).toThrow(/bad:2: expected '<identity> <64 hex digits/);
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { ...env, LSPO_GRPC_TOKEN_DIGESTS_FILE: file("who", `mallory ${tokenDigest("x")}\n`) })).toThrow(/who:1: unknown identity 'mallory'/);
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { ...env, LSPO_GRPC_TOKEN_DIGESTS_FILE: join(dir, "none") })).toThrow(/LSPO_GRPC_TOKEN_DIGESTS_FILE\): cannot read .*none: ENOENT/);
    // A certificate that names two identities is refused, and so is a NATS user that is another identity.
    expect(identityInSan("URI:spiffe://lspo/learner, DNS:lspo")).toBe("learner");
    expect(() => identityInSan("URI:spiffe://lspo/learner, URI:spiffe://lspo/controller")).toThrow(/several lspo identities/);
    expect(registryIdentityOf({ user: "learner" }, sec)).toBe("learner");
    expect(() => registryIdentityOf({ user: "rollout" }, sec)).toThrow(/NATS user is 'rollout' but its gRPC certificate names identity 'learner'/);
    expect(registryIdentityOf({}, grpcSecurityFrom(resolveConfig({}).security, {}))).toBe("any");
  });

  it("gRPC: half a TLS pair names both keys", () => {
    expect(() => grpcSecurityFrom(resolveConfig({ security: { grpcTlsCert: "/c.crt" } }).security, {})).toThrow(
      /security\.grpcTlsCert \(LSPO_GRPC_TLS_CERT\) is set, security\.grpcTlsKey \(LSPO_GRPC_TLS_KEY\) is missing/,
    );
    expect(() => grpcSecurityFrom(resolveConfig({}).security, { LSPO_GRPC_TOKEN_FILE: join(dir, "absent") })).toThrow(/security\.grpcTokenFile: cannot read secret file/);
  });
});
