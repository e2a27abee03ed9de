// NATS security on real nats-servers with a throwaway PKI: TLS + user/password, token, and mutual TLS.
// The bus's connection options (what every service and the CLI use) get in with the right credentials,
// from options or from the LSPO_NATS_* environment with secrets in files; everyone else is refused: no
// credentials, a wrong password, no TLS, a CA that does not know the server, no client certificate.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busOptionsFromEnv, connectBus, ensureStreams, jetstreamManager, startNatsServer, type NatsServer } from "@lspo/bus";
import { makePki, type Pki } from "./support/pki.js";

const root = resolve(import.meta.dirname, "../..");
let pki: Pki;
let secrets: string;
const PASSWORD = "n4ts-pa55-7c1e";
const TOKEN = "n4ts-t0ken-93ab";
const servers: NatsServer[] = [];

const tlsBlock = (verify: boolean) => `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.ca}"${verify ? ", verify: true" : ""} }`;
const tlsUrl = (s: NatsServer) => `tls://127.0.0.1:${s.port}`;
let passwordServer: NatsServer;
let tokenServer: NatsServer;
let mtlsServer: NatsServer;

beforeAll(async () => {
  pki = makePki();
  secrets = mkdtempSync(join(tmpdir(), "lspo-secrets-"));
  writeFileSync(join(secrets, "password"), `${PASSWORD}\n`);
  writeFileSync(join(secrets, "token"), `${TOKEN}\n`);
  passwordServer = await startNatsServer({ config: `${tlsBlock(false)}\nauthorization { user: lspo, password: "${PASSWORD}" }` });
  tokenServer = await startNatsServer({ config: `${tlsBlock(false)}\nauthorization { token: "${TOKEN}" }` });
  mtlsServer = await startNatsServer({ config: `${tlsBlock(true)}\nauthorization { user: lspo, password: "${PASSWORD}" }` });
  servers.push(passwordServer, tokenServer, mtlsServer);
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

const refused = (p: Promise<{ close(): Promise<void> }>) => p.then(async (nc) => (await nc.close(), "connected"), (err: Error) => err.message);

describe("security - NATS authentication and TLS", { timeout: 60_000 }, () => {
  it("TLS + user/password: the right credentials get in (options and env, secret from a file); nobody else does", async () => {
    const url = tlsUrl(passwordServer);
    const nc = await connectBus({ url, user: "lspo", password: PASSWORD, tlsCa: pki.ca });
    await ensureStreams(await jetstreamManager(nc)); // JetStream works over the authenticated connection
    await nc.close();
    const env = { LSPO_NATS_URL: url, LSPO_NATS_USER: "lspo", LSPO_NATS_PASSWORD_FILE: join(secrets, "password"), LSPO_NATS_TLS_CA: pki.ca };
    const fromEnv = busOptionsFromEnv(env);
    expect(fromEnv).toMatchObject({ url, user: "lspo", password: PASSWORD, tlsCa: pki.ca }); // trimmed from the file
    await (await connectBus({ ...fromEnv, url })).close();

    expect(await refused(connectBus({ url, tlsCa: pki.ca }))).toMatch(/Authorization Violation/i);
    expect(await refused(connectBus({ url, user: "lspo", password: "wrong", tlsCa: pki.ca }))).toMatch(/Authorization Violation/i);
    expect(await refused(connectBus({ url: `nats://127.0.0.1:${passwordServer.port}`, user: "lspo", password: PASSWORD }))).not.toBe("connected");
    expect(await refused(connectBus({ url, user: "lspo", password: PASSWORD, tlsCa: pki.strangerCa }))).toMatch(/certificate/i);
  });

  it("token: from LSPO_NATS_TOKEN_FILE gets in; without it, or with another, refused", async () => {
    const url = tlsUrl(tokenServer);
    const fromEnv = busOptionsFromEnv({ LSPO_NATS_TOKEN_FILE: join(secrets, "token"), LSPO_NATS_TLS_CA: pki.ca });
    expect(fromEnv.token).toBe(TOKEN);
    await (await connectBus({ ...fromEnv, url })).close();
    expect(await refused(connectBus({ url, tlsCa: pki.ca }))).toMatch(/Authorization Violation/i);
    expect(await refused(connectBus({ url, token: "guess", tlsCa: pki.ca }))).toMatch(/Authorization Violation/i);
  });

  it("mutual TLS: a client certificate from the deployment's CA gets in; none, or a stranger's, is refused", async () => {
    const url = tlsUrl(mtlsServer);
    // A refused client certificate surfaces as a connection that never completes: give up after 3 s.
    const creds = { url, user: "lspo", password: PASSWORD, tlsCa: pki.ca, timeoutMs: 3000 };
    const env = { LSPO_NATS_TLS_CERT: pki.clientCert, LSPO_NATS_TLS_KEY: pki.clientKey };
    await (await connectBus({ ...creds, ...busOptionsFromEnv(env) })).close();
    expect(await refused(connectBus(creds))).not.toBe("connected");
    expect(await refused(connectBus({ ...creds, tlsCert: pki.strangerCert, tlsKey: pki.strangerKey }))).not.toBe("connected");
  });

  it("the CLI: lspo status connects with LSPO_NATS_* credentials, and fails clearly without them", () => {
    const url = tlsUrl(passwordServer);
    const lspo = (env: Record<string, string>) =>
      spawnSync(process.execPath, [join(root, "scripts/lspo.mjs"), "status", "--nats", url, "--json"], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
    const ok = lspo({ LSPO_NATS_USER: "lspo", LSPO_NATS_PASSWORD_FILE: join(secrets, "password"), LSPO_NATS_TLS_CA: pki.ca });
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ controller: null, actors: [] });
    const denied = lspo({ LSPO_NATS_TLS_CA: pki.ca });
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toMatch(/Authorization Violation/i);
    for (const r of [ok, denied]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });
});
