// Every identity x every action of the matrix in docs/RELIABILITY.md ("Identities and what each may do"),
// tried for real: the shipped NATS permissions (deploy/nats/accounts.conf) on a real nats-server, and gRPC
// servers guarded by the per-identity authorisation (libs/actors/src/identity.ts), all with the credentials
// deploy/make-secrets.sh makes. The observed matrix must equal the documented one, cell for cell, so the doc
// cannot claim a cell nobody tried.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { IDENTITIES, connectClient, startGrpcServer, type RunningServer, type ServiceBinding } from "@lspo/actors";
import { STREAMS, jetstreamManager, type NatsConnection } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { provisionRun } from "@lspo/controller";
import {
  LearnerServiceService, NodeAgentServiceService, RolloutServiceService, SamplerServiceService, VerifierServiceService,
} from "@lspo/proto";
import { startShippedNats, type ShippedNats } from "../k8s/support/nats-server.js";
import { makeDeploymentSecrets, root, type DeploymentSecrets } from "./support/deployment-secrets.js";

const RUN = "matrix";
type Outcome = "allowed" | "denied";

let nats: ShippedNats | null = null;
const servers: RunningServer[] = [];
const connections: NatsConnection[] = [];
afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined);
  for (const s of servers) await s.stop(100);
  await nats?.stop();
});

/** A NATS request or JetStream API call: denied when the server refuses the subject, allowed otherwise (a
 *  JetStream error such as "no message found" means the request got through). */
async function natsOutcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    await fn();
    return "allowed";
  } catch (err) {
    if (/permissions violation/i.test((err as Error).message)) return "denied";
    if (/no responders|timeout|not found|no message/i.test((err as Error).message)) return "allowed";
    throw new Error(`unexpected answer: ${(err as Error).message}`);
  }
}

/** A gRPC call: allowed when the server ran the handler; denied on PERMISSION_DENIED, UNAUTHENTICATED, or a
 *  handshake the client refused (UNAVAILABLE: the server did not hold the identity expected). */
async function grpcOutcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    await fn();
    return "allowed";
  } catch (err) {
    const code = (err as grpc.ServiceError).code;
    if (code === grpc.status.PERMISSION_DENIED || code === grpc.status.UNAUTHENTICATED || code === grpc.status.UNAVAILABLE) return "denied";
    throw err;
  }
}

interface World {
  secrets: DeploymentSecrets;
  nc: NatsConnection;
  identity: string;
  /** Addresses of the guarded servers, by the identity each serves as. */
  address: Record<string, string>;
  /** Calls each server's handlers took, by server identity. */
  handled: Record<string, string[]>;
}

const put = (w: World, subject: string) => natsOutcome(() => w.nc.request(subject, new TextEncoder().encode("forged"), { timeout: 2000 }));
const jsm = (w: World) => jetstreamManager(w.nc);
const call = (w: World, server: string, def: object, method: string, req: object, token?: string) =>
  grpcOutcome(() => {
    const c = connectClient(def as typeof LearnerServiceService, w.address[server], { ...w.secrets.client(w.identity, token), expectIdentity: server });
    return (c.call as unknown as Record<string, (r: object) => Promise<unknown>>)[method](req).finally(() => c.close());
  });

/** The actions of the matrix, in the doc's row order. Destructive ones run on the test's own NATS. */
const ACTIONS: Array<[string, (w: World) => Promise<Outcome>]> = [
  ["NATS: write the learner's registry record", (w) => put(w, `$KV.lspo-actors.${RUN}.actor.learner.learner-0`)],
  ["NATS: write a rollout actor's registry record", (w) => put(w, `$KV.lspo-actors.${RUN}.actor.rollout.rollout-0`)],
  ["NATS: write a rollout node's registry record", (w) => put(w, `$KV.lspo-actors.${RUN}.node.rollout.node-1`)],
  ["NATS: publish prompts", (w) => put(w, `lspo.prompts.${RUN}`)],
  ["NATS: publish rollouts", (w) => put(w, `lspo.rollouts.${RUN}`)],
  ["NATS: publish verified groups", (w) => put(w, `lspo.verified.${RUN}`)],
  ["NATS: publish a training batch", (w) => put(w, `lspo.batches.${RUN}`)],
  ["NATS: publish the weights version (KV lspo-weights)", (w) => put(w, `$KV.lspo-weights.${RUN}`)],
  ["NATS: write a weights object (object store lspo-weights)", (w) => put(w, `$O.lspo-weights.M.forged`)],
  ["NATS: write the sampler's state (object store lspo-batches)", (w) => put(w, `$O.lspo-batches.M.forged`)],
  ["NATS: write a checkpoint's sampler state (object store lspo-checkpoints)", (w) => put(w, `$O.lspo-checkpoints.M.forged`)],
  ["NATS: pull from the learner's consumer", (w) => natsOutcome(() => w.nc.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.batches.name}.learner-${RUN}`, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 2000 }))],
  ["NATS: ack a training batch", (w) => put(w, `$JS.ACK.${STREAMS.batches.name}.learner-${RUN}.1.1.1.0.0`)],
  ["NATS: create a stream", async (w) => natsOutcome(async () => (await jsm(w)).streams.add({ name: `FORGED_${w.identity}`, subjects: [`forged.${w.identity}`] }))],
  ["NATS: delete a stream", async (w) => natsOutcome(async () => (await jsm(w)).streams.delete(`SCRATCH_${w.identity}`))],
  ["NATS: purge a pipeline stream", async (w) => natsOutcome(async () => (await jsm(w)).streams.purge(STREAMS.batches.name))],
  ["NATS: delete a stage's consumer (LSPO_PROMPTS)", async (w) => natsOutcome(async () => (await jsm(w)).consumers.delete(STREAMS.prompts.name, `scratch-${w.identity}`))],
  ["NATS: delete a consumer on LSPO_BATCHES", async (w) => natsOutcome(async () => (await jsm(w)).consumers.delete(STREAMS.batches.name, `scratch-${w.identity}`))],
  ["NATS: delete a KV bucket", async (w) => natsOutcome(async () => (await jsm(w)).streams.delete(`KV_scratch-${w.identity}`))],
  ["NATS: purge a KV bucket (the registry)", async (w) => natsOutcome(async () => (await jsm(w)).streams.purge("KV_lspo-actors", { filter: `$KV.lspo-actors.${RUN}.scratch` }))],
  ["NATS: purge the weights object store", async (w) => natsOutcome(async () => (await jsm(w)).streams.purge("OBJ_lspo-weights", { filter: "$O.lspo-weights.C.scratch" }))],
  ["NATS: purge the checkpoints object store", async (w) => natsOutcome(async () => (await jsm(w)).streams.purge("OBJ_lspo-checkpoints", { filter: "$O.lspo-checkpoints.C.scratch" }))],
  ["NATS: delete the weights object store", async (w) => natsOutcome(async () => (await jsm(w)).streams.delete(`OBJ_scratch-${w.identity}`))],
  ["gRPC: SwapAlgorithm on the learner", (w) => call(w, "learner", LearnerServiceService, "swapAlgorithm", { spec: { name: "gspo", overrides: {} } })],
  ["gRPC: Checkpoint on the learner", (w) => call(w, "learner", LearnerServiceService, "checkpoint", {})],
  ["gRPC: UpdateConfig on the sampler", (w) => call(w, "sampler", SamplerServiceService, "updateConfig", {})],
  ["gRPC: Refill on the sampler", (w) => call(w, "sampler", SamplerServiceService, "refill", { inFlight: 0 })],
  ["gRPC: Generate on a rollout actor", (w) => call(w, "rollout", RolloutServiceService, "generate", { prompts: [] })],
  ["gRPC: Verify on a verifier", (w) => call(w, "verifier", VerifierServiceService, "verify", {})],
  ["gRPC: StartActors on a node agent", (w) => callAgent(w)],
  // Fence decides which controller an agent obeys (libs/actors fence.ts): another identity that could raise it
  // would shut every controller of the run out.
  ["gRPC: Fence on a node agent", (w) => callAgent(w, "fence")],
  ["gRPC: Status on the learner (read)", (w) => call(w, "learner", LearnerServiceService, "status", {})],
  ["gRPC: SwapAlgorithm with the controller's token", (w) => call(w, "learner", LearnerServiceService, "swapAlgorithm", { spec: { name: "gspo", overrides: {} } }, w.secrets.token("controller"))],
  ["gRPC: serve as the learner to a client that expects the learner", async (w) => {
    // This identity serves a learner service; the controller's client, which looks for the learner, calls it.
    const handled: string[] = [];
    const fake = await startGrpcServer([binding("lspo.v1.LearnerService", LearnerServiceService, handled)], { ...w.secrets.server(w.identity), host: "127.0.0.1" });
    servers.push(fake);
    const c = connectClient(LearnerServiceService, fake.address, { ...w.secrets.client("controller"), expectIdentity: "learner" });
    const outcome = await grpcOutcome(() => c.call.swapAlgorithm({ spec: { name: "gspo", overrides: {} } }).finally(() => c.close()));
    // Refused in the handshake: the impostor received no call, and so no token.
    if (outcome === "denied") expect(handled, `${w.identity}'s fake learner received a call`).toEqual([]);
    return outcome;
  }],
];

/** A service whose handlers answer empty responses and note the call: what is tested is who gets through. */
function binding(name: string, definition: object, handled: string[]): ServiceBinding {
  const def = definition as grpc.ServiceDefinition;
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, m] of Object.entries(def)) {
    implementation[method] = ((callArg: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      handled.push(`${m.path} ${callArg.metadata.get("authorization").length ? "with a token" : "without a token"}`);
      cb(null, (m.responseDeserialize as (b: Buffer) => unknown)(Buffer.alloc(0)));
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return { name, definition: def, implementation };
}

/** The documented matrix: the table after the marker in docs/RELIABILITY.md, as action -> identity -> outcome. */
function documentedMatrix(): { columns: string[]; rows: Map<string, Record<string, Outcome>> } {
  const doc = readFileSync(join(root, "docs/RELIABILITY.md"), "utf8");
  const at = doc.indexOf("<!-- not measured: identities x actions");
  expect(at, "docs/RELIABILITY.md has the identities x actions matrix").toBeGreaterThan(0);
  const lines = doc.slice(at).split("\n").slice(1).filter((l, i, all) => l.startsWith("|") && all.slice(0, i).every((p) => p.startsWith("|")));
  const header = lines[0].split("|").slice(2, -1).map((c) => c.trim());
  const rows = new Map<string, Record<string, Outcome>>();
  for (const line of lines.slice(2)) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    rows.set(cells[0].replace(/`/g, ""), Object.fromEntries(header.map((h, i) => [h, cells[i + 1] === "yes" ? "allowed" : cells[i + 1] === "no" ? "denied" : (cells[i + 1] as Outcome)])));
  }
  return { columns: header, rows };
}

describe("security - every identity x every action, as documented", { timeout: 240_000 }, () => {
  it("observes exactly the matrix in docs/RELIABILITY.md", async () => {
    const secrets = makeDeploymentSecrets();
    nats = await startShippedNats(root);
    const as = async (identity: string) => {
      const nc = await connect({ servers: nats!.url, user: identity, pass: nats!.passwords[identity as keyof ShippedNats["passwords"]], reconnect: false });
      connections.push(nc);
      return nc;
    };
    // The run as the controller provisions it, plus scratch things each identity may try to destroy.
    const admin = await as("controller");
    const config = resolveConfig({}, [`run.name=${RUN}`]);
    const adminJsm = await jetstreamManager(admin);
    await provisionRun(admin, adminJsm, config);
    for (const id of IDENTITIES) {
      await adminJsm.streams.add({ name: `SCRATCH_${id}`, subjects: [`scratch.${id}`] });
      await adminJsm.streams.add({ name: `KV_scratch-${id}`, subjects: [`$KV.scratch-${id}.>`] });
      await adminJsm.streams.add({ name: `OBJ_scratch-${id}`, subjects: [`$O.scratch-${id}.>`] });
      // Work-queue streams take only consumers with filters of their own.
      for (const [stream, prefix] of [[STREAMS.prompts.name, "lspo.prompts"], [STREAMS.batches.name, "lspo.batches"]]) {
        await adminJsm.consumers.add(stream, { durable_name: `scratch-${id}`, ack_policy: "explicit" as never, filter_subject: `${prefix}.scratch-${id}` });
      }
    }
    await adminJsm.consumers.add(STREAMS.batches.name, { durable_name: `learner-${RUN}`, ack_policy: "explicit" as never, filter_subject: `lspo.batches.${RUN}` });

    // One guarded server per serving identity: learner, sampler, rollout actor, verifier, rollout node agent.
    const handled: Record<string, string[]> = {};
    const address: Record<string, string> = {};
    for (const [as_, identity, name, def] of [
      ["learner", "learner", "lspo.v1.LearnerService", LearnerServiceService],
      ["sampler", "sampler", "lspo.v1.SamplerService", SamplerServiceService],
      ["rollout", "rollout", "lspo.v1.RolloutService", RolloutServiceService],
      ["verifier", "verifier", "lspo.v1.VerifierService", VerifierServiceService],
      ["rollout-agent", "rollout", "lspo.v1.NodeAgentService", NodeAgentServiceService],
    ] as const) {
      handled[as_] = [];
      const s = await startGrpcServer([binding(name, def, handled[as_])], { ...secrets.server(identity), host: "127.0.0.1" });
      servers.push(s);
      address[as_] = s.address;
    }

    // Provisioning the run as the controller needed nothing its permissions deny.
    expect(nats.log()).not.toMatch(/Violation/);
    const observed = new Map<string, Record<string, Outcome>>();
    // The controller last: its allowed destructive cells must not change what the others meet.
    for (const identity of [...IDENTITIES.filter((i) => i !== "controller"), "controller"]) {
      const w: World = { secrets, nc: await as(identity), identity, address, handled };
      for (const [action, fn] of ACTIONS) {
        const row = observed.get(action) ?? {};
        row[identity] = await fn(w);
        observed.set(action, row);
      }
    }
    const doc = documentedMatrix();
    expect(doc.columns).toEqual([...IDENTITIES]);
    const table = (m: Map<string, Record<string, Outcome>>) => [...m].map(([a, r]) => `${a}: ${IDENTITIES.map((i) => `${i}=${r[i]}`).join(" ")}`);
    console.log(JSON.stringify({ scenario: "identities-matrix", observed: table(observed) }, null, 1));
    expect(table(observed)).toEqual(table(doc.rows));
  });
});

/** StartActors (or Fence) on a rollout node's agent (it serves as identity rollout), as `w.identity`. */
async function callAgent(w: World, method: "startActors" | "fence" = "startActors"): Promise<Outcome> {
  return grpcOutcome(() => {
    const c = connectClient(NodeAgentServiceService, w.address["rollout-agent"], { ...w.secrets.client(w.identity), expectIdentity: "rollout" });
    const call = method === "fence"
      ? c.call.fence({ fencingToken: { epochMs: BigInt(Date.now()), revision: 1n } })
      : c.call.startActors({ kind: "rollout", namePrefix: "", count: 1, names: [], configJson: "{}", maxRestarts: 0 });
    return call.finally(() => c.close());
  });
}
