// The attacker of the security scenario: runs on a rollout host of the namespace cluster with what a
// compromised rollout pod holds (the rollout identity's NATS password, certificate, key and gRPC token, the
// deployment CA) and tries everything issue 20 lists against the run beside it. It also serves a fake
// learner with the rollout certificate, registers it wherever NATS lets it, and records whatever reaches it.
// Prints one JSON line: every attempt with its outcome, and what the fake learner captured.
//
//   node --import tsx attacker.ts <run id> <stop file>     (LSPO_NATS_* and LSPO_GRPC_* as the rollout pod's)
// It writes `<stop file>.ready` (the fake's address) once every attempt is made, and reports when the stop
// file appears.
import { existsSync, writeFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { ActorRegistry, busOptionsFor, connectClient, grpcSecurityFrom, startGrpcServer, type ServiceBinding } from "@lspo/actors";
import { STREAMS, connectBus, encodeEnvelope, jetstreamManager } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { ComponentState, LearnerServiceService, NodeAgentServiceService, RolloutServiceService, SamplerServiceService } from "@lspo/proto";

type Outcome = "denied" | "allowed" | "ignored" | `error: ${string}`;

const [runId, stopFile] = process.argv.slice(2);
if (!runId || !stopFile) throw new Error("usage: attacker.ts <run id> <stop file>");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const config = resolveConfig({}, [`run.name=${runId}`]);
const nc = await connectBus(busOptionsFor(config, "attacker"));
const security = grpcSecurityFrom(config.security);
const jsm = await jetstreamManager(nc);
const registry = await ActorRegistry.open(nc, { runId, identity: "rollout" });

// Wait for the run's learner, its sampler and the learner host's agent, as a rollout pod would see them.
const running = async () => {
  const learner = (await registry.resolve("learner"))[0];
  const sampler = (await registry.resolve("sampler"))[0];
  const agent = learner ? (await registry.view()).nodesNamed(learner.node)[0] : undefined;
  return learner && sampler && agent ? { learner, sampler, learnerAgent: agent } : null;
};
let found = await running();
for (let i = 0; i < 600 && !found; i++) {
  await sleep(200);
  found = await running();
}
if (!found) throw new Error("the run's learner, sampler and learner agent never all registered");
const { learner, sampler, learnerAgent } = found;

const attempts: Array<{ attempt: string; outcome: Outcome; detail?: string }> = [];
async function nats(attempt: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    attempts.push({ attempt, outcome: "allowed" });
  } catch (err) {
    const m = (err as Error).message;
    attempts.push({ attempt, outcome: /permissions violation/i.test(m) ? "denied" : `error: ${m}`, detail: m });
  }
}
async function rpc(attempt: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
    attempts.push({ attempt, outcome: "allowed" });
  } catch (err) {
    const e = err as grpc.ServiceError;
    const denied = e.code === grpc.status.PERMISSION_DENIED || e.code === grpc.status.UNAUTHENTICATED;
    attempts.push({ attempt, outcome: denied ? "denied" : `error: ${grpc.status[e.code] ?? ""} ${e.message}`, detail: e.details ?? e.message });
  }
}
const put = (subject: string, body: Uint8Array | string) => nc.request(subject, typeof body === "string" ? new TextEncoder().encode(body) : body, { timeout: 3000 });

// The fake: the rollout certificate, any caller with a certificate from the deployment's CA; it serves the
// learner's service and the rollout actors' (which this identity may legitimately serve), answers UNAVAILABLE
// (a client then tries another replica), and notes each call with the authorization metadata it carried.
const captured: Array<{ method: string; authorization: string }> = [];
const recording = (definition: Record<string, { path: string }>): grpc.UntypedServiceImplementation =>
  Object.fromEntries(Object.entries(definition).map(([method, m]) => [method, ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    captured.push({ method: m.path, authorization: String(call.metadata.get("authorization")[0] ?? "") });
    cb({ code: grpc.status.UNAVAILABLE, details: "fake" });
  }) as grpc.handleUnaryCall<unknown, unknown>]));
const bindings: ServiceBinding[] = [
  { name: "lspo.v1.LearnerService", definition: LearnerServiceService as unknown as grpc.ServiceDefinition, implementation: recording(LearnerServiceService) },
  { name: "lspo.v1.RolloutService", definition: RolloutServiceService as unknown as grpc.ServiceDefinition, implementation: recording(RolloutServiceService) },
];
const fake = await startGrpcServer(bindings, { tls: security.server.tls, host: "0.0.0.0" });
const fakeRecord = (kind: string) => ({
  ...learner, kind, grpcAddress: fake.address, pid: process.pid, node: learner.node, state: ComponentState.COMPONENT_STATE_RUNNING, runId, heartbeatAt: new Date(),
});

// 1. The registry: the learner's own record, then the fake under the keys NATS does let this identity write.
await nats("overwrite the learner's registry record", () => put(`$KV.lspo-actors.${runId}.actor.learner.${learner.name}`, encodeEnvelope("ActorRecord", fakeRecord("learner"))));
// Allowed by NATS (its own keys) but worth nothing: readers take the kind from the key, so this is either
// skipped (the body says learner) or a rollout actor named like the learner, which a learner handle never calls.
await nats("register the fake as a learner under its own (rollout) keys", () => put(`$KV.lspo-actors.${runId}.actor.rollout.${learner.name}`, encodeEnvelope("ActorRecord", fakeRecord("learner"))));
await nats("register the fake as a rollout actor named like the learner", () => put(`$KV.lspo-actors.${runId}.actor.rollout.${learner.name}`, encodeEnvelope("ActorRecord", fakeRecord("rollout"))));
// Keep the forged records fresh while the scenario runs, as a heartbeat would.
const refresh = setInterval(() => void put(`$KV.lspo-actors.${runId}.actor.rollout.${learner.name}`, encodeEnvelope("ActorRecord", fakeRecord("rollout"))).catch(() => undefined), 1000);

// 2. Streams, consumers, buckets, object stores.
await nats("delete stream LSPO_BATCHES", () => jsm.streams.delete(STREAMS.batches.name));
await nats("purge stream LSPO_PROMPTS", () => jsm.streams.purge(STREAMS.prompts.name));
await nats("delete the learner's consumer", () => jsm.consumers.delete(STREAMS.batches.name, `learner-${runId}`));
await nats("delete the sampler's consumer", () => jsm.consumers.delete(STREAMS.verified.name, `sampler-${runId}`));
await nats("delete KV bucket lspo-sampler", () => jsm.streams.delete("KV_lspo-sampler"));
await nats("purge KV bucket lspo-actors (the registry)", () => jsm.streams.purge("KV_lspo-actors"));
await nats("purge the weights object store", () => jsm.streams.purge("OBJ_lspo-weights"));
await nats("delete the weights object store", () => jsm.streams.delete("OBJ_lspo-weights"));
// 3. Data it must not write or take.
await nats("publish a weights version", () => put(`$KV.lspo-weights.${runId}`, "forged"));
await nats("write a weights object", () => put("$O.lspo-weights.M.forged", "forged"));
await nats("publish a training batch", () => put(`lspo.batches.${runId}`, "forged"));
await nats("pull from the learner's consumer", () => nc.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.batches.name}.learner-${runId}`, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 3000 }));

// 4. gRPC with its own certificate and token, against the real learner, sampler and the learner's agent.
const as = (expectIdentity: string) => ({ ...security.client, expectIdentity, deadlineMs: 5000 });
const learnerClient = connectClient(LearnerServiceService, learner.grpcAddress, as("learner"));
await rpc("SwapAlgorithm on the learner", () => learnerClient.call.swapAlgorithm({ spec: { name: "grpo", overrides: {} } }));
await rpc("Checkpoint on the learner", () => learnerClient.call.checkpoint({}));
await rpc("SwapAlgorithm on the learner without a token", () => connectClient(LearnerServiceService, learner.grpcAddress, { ...as("learner"), token: undefined }).call.swapAlgorithm({ spec: { name: "grpo", overrides: {} } }));
learnerClient.close();
await rpc("UpdateConfig on the sampler", () => connectClient(SamplerServiceService, sampler.grpcAddress, as("sampler")).call.updateConfig({}));
await rpc("StartActors on the learner host's agent", () =>
  connectClient(NodeAgentServiceService, learnerAgent.record.agentAddress, as(learnerAgent.owner)).call.startActors({ kind: "learner", namePrefix: "evil", count: 1, names: [], configJson: "{}", maxRestarts: 0 }),
);
process.stderr.write(`[attacker] ready: fake learner on ${fake.address}\n`);
writeFileSync(`${stopFile}.ready`, JSON.stringify({ fake: fake.address }));

// 5. Wait while the operator and the controller use the run. Whatever token a real client sent the fake
// (the controller calls rollout actors, which this identity may serve) is replayed against the real learner
// with this identity's certificate: a token is its own identity's and good with no other certificate.
while (!existsSync(stopFile)) await sleep(200);
clearInterval(refresh);
const stolen = [...new Set(captured.map((c) => c.authorization).filter((a) => a.startsWith("Bearer ")))];
for (const [i, auth] of stolen.entries()) {
  await rpc(`replay token ${i + 1} captured from a real client: SwapAlgorithm on the learner`, () =>
    connectClient(LearnerServiceService, learner.grpcAddress, { ...as("learner"), token: auth.slice("Bearer ".length) }).call.swapAlgorithm({ spec: { name: "grpo", overrides: {} } }),
  );
}
await fake.stop(100);
registry.close();
await nc.close();
console.log(JSON.stringify({ fake: fake.address, learner: learner.grpcAddress, attempts, captured }));
process.exit(0);
