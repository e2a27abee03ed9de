// A whole run with security on, started from the CLI (`lspo train`) against a nats-server that requires
// TLS and a password: the controller, the node agent and every service connect with the run's credentials
// (secret in a file), serve gRPC over mutual TLS, and guard their state-changing calls with a token (in a
// file). While it runs, callers without the token, without a client certificate, with a stranger's, or in
// plaintext are refused; with them, allowed. Afterwards nothing the run wrote or printed contains a secret.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { ActorRegistry, connectClient, type ClientOptions } from "@lspo/actors";
import { connectBus, startNatsServer, type NatsServer } from "@lspo/bus";
import { LearnerServiceService, NodeAgentServiceService, SamplerMode, SamplerServiceService } from "@lspo/proto";
import { makePki } from "./support/pki.js";

const root = resolve(import.meta.dirname, "../..");
const NATS_PASSWORD = "run-n4ts-pa55-51d2";
const GRPC_TOKEN = "run-grpc-t0ken-8e77";
let nats: NatsServer | null = null;
afterAll(async () => {
  await nats?.stop();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(() => "OK", (err: grpc.ServiceError) => grpc.status[err.code]);
}

describe("security - a run with NATS auth + TLS, gRPC mutual TLS and a control token", { timeout: 240_000 }, () => {
  it("connects every component with credentials, refuses callers without them, and never writes a secret", async () => {
    const pki = makePki();
    const secrets = mkdtempSync(join(tmpdir(), "lspo-run-secrets-"));
    writeFileSync(join(secrets, "nats-password"), NATS_PASSWORD);
    writeFileSync(join(secrets, "grpc-token"), `${GRPC_TOKEN}\n`);
    nats = await startNatsServer({
      config: `tls { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", ca_file: "${pki.ca}" }\nauthorization { user: lspo, password: "${NATS_PASSWORD}" }`,
    });
    const url = `tls://127.0.0.1:${nats.port}`;
    const dir = mkdtempSync(join(tmpdir(), "lspo-secured-"));
    const overrides = [
      `run.dir=${dir}`, "run.name=secured", "run.steps=8", "run.timeoutS=150",
      `nats.url=${url}`, "nats.user=lspo", `nats.passwordFile=${join(secrets, "nats-password")}`, `nats.tlsCa=${pki.ca}`,
      `security.grpcTokenFile=${join(secrets, "grpc-token")}`, `security.grpcTlsCert=${pki.serverCert}`, `security.grpcTlsKey=${pki.serverKey}`, `security.grpcTlsCa=${pki.ca}`,
    ];
    const child = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), "train", "-c", join(root, "configs/smoke.yaml"), "--quiet", ...overrides], {
      env: { ...process.env, LSPO_NATS_URL: "", LSPO_NATS_USER: "", LSPO_NATS_PASSWORD: "", LSPO_GRPC_TOKEN: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (err += b));
    const exited = new Promise<number>((r) => child.once("exit", (code) => r(code ?? -1)));

    // Reach the running system as an operator would: NATS with the credentials, gRPC with the deployment's
    // client certificate, and (only for control calls) the token.
    const nc = await connectBus({ url, user: "lspo", password: NATS_PASSWORD, tlsCa: pki.ca });
    const registry = await ActorRegistry.open(nc, { runId: "secured" }); // run.name above
    const deadline = Date.now() + 120_000;
    let learner = "";
    let sampler = "";
    while ((!learner || !sampler) && Date.now() < deadline) {
      learner = (await registry.resolve("learner"))[0]?.grpcAddress ?? "";
      sampler = (await registry.resolve("sampler"))[0]?.grpcAddress ?? "";
      if (!learner || !sampler) await new Promise((r) => setTimeout(r, 200));
    }
    expect(learner, `the learner registered (controller stderr: ${err.slice(-2000)})`).not.toBe("");
    const agentAddress = (await registry.listNodes())[0].agentAddress;
    const mtls: ClientOptions = { tlsCa: pki.ca, tlsCert: pki.clientCert, tlsKey: pki.clientKey, deadlineMs: 5000 };
    const checks: Record<string, string> = {};
    const call = async (what: string, address: string, def: object, opts: ClientOptions, method: string, req: object) => {
      const c = connectClient(def as typeof LearnerServiceService, address, opts);
      checks[what] = await codeOf((c.call as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req));
      c.close();
    };
    const samplerConfig = { mode: SamplerMode.SAMPLER_MODE_STREAM, batchSize: 4, window: 16, lLow: 0.3, lHigh: 0.65, lMax: 0.95, lengthFilter: true };
    await call("swapAlgorithm without token", learner, LearnerServiceService, mtls, "swapAlgorithm", { spec: { name: "gspo", overrides: {} } });
    await call("checkpoint without token", learner, LearnerServiceService, mtls, "checkpoint", {});
    await call("updateConfig without token", sampler, SamplerServiceService, mtls, "updateConfig", { config: samplerConfig });
    await call("startActors without token", agentAddress, NodeAgentServiceService, mtls, "startActors", { kind: "rollout", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: 0 });
    await call("checkpoint with a wrong token", learner, LearnerServiceService, { ...mtls, token: "guess" }, "checkpoint", {});
    await call("status (read-only) with mTLS, no token", learner, LearnerServiceService, mtls, "status", {});
    await call("checkpoint with token + mTLS", learner, LearnerServiceService, { ...mtls, token: GRPC_TOKEN }, "checkpoint", {});
    await call("status without a client certificate", learner, LearnerServiceService, { tlsCa: pki.ca, deadlineMs: 5000 }, "status", {});
    await call("status with a stranger's certificate", learner, LearnerServiceService, { tlsCa: pki.ca, tlsCert: pki.strangerCert, tlsKey: pki.strangerKey, deadlineMs: 5000 }, "status", {});
    await call("status in plaintext", learner, LearnerServiceService, { deadlineMs: 5000 }, "status", {});
    await nc.close();

    const code = await exited;
    console.log(JSON.stringify({ scenario: "secured-run", checks, exit: code, result: out.trim().split("\n").pop() }));
    expect(code, err.slice(-3000)).toBe(0);
    const result = JSON.parse(out.trim().split("\n").pop()!);
    expect(result).toMatchObject({ steps: 8, lost: 0, duplicates: 0, restarts: 0 });
    expect(checks).toEqual({
      "swapAlgorithm without token": "UNAUTHENTICATED",
      "checkpoint without token": "UNAUTHENTICATED",
      "updateConfig without token": "UNAUTHENTICATED",
      "startActors without token": "UNAUTHENTICATED",
      "checkpoint with a wrong token": "UNAUTHENTICATED",
      "status (read-only) with mTLS, no token": "OK",
      "checkpoint with token + mTLS": "OK",
      "status without a client certificate": "UNAVAILABLE",
      "status with a stranger's certificate": "UNAVAILABLE",
      "status in plaintext": "UNAVAILABLE",
    });
    // No secret in anything the run printed or wrote (logs of every actor, metrics, config, summary, checkpoints).
    const files = filesUnder(dir);
    expect(files.some((f) => f.endsWith("learner-0.log"))).toBe(true);
    for (const secret of [NATS_PASSWORD, GRPC_TOKEN]) {
      expect(out + err, "controller output").not.toContain(secret);
      for (const f of files) expect(readFileSync(f).includes(secret), f).toBe(false);
    }
  });
});
