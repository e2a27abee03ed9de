// Bad input on the control plane: every method of every service, on a running system, gets hand-written
// invalid requests (the answer must be INVALID_ARGUMENT naming the field), seeded random requests (any
// answer but OK or INVALID_ARGUMENT naming a request field is a failure: INTERNAL means a request reached
// code that did not expect it) and raw random bytes. The node agent's methods get the same on an agent of
// their own (its valid requests start harmless processes). Afterwards the run must still complete with
// nothing lost and no restarts.
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { NodeAgent, actorHandle, connectClient } from "@lspo/actors";
import { bytesOf, connectBus, startNatsServer, type NatsConnection, type NatsServer } from "@lspo/bus";
import { train, type RunningRun } from "@lspo/controller";
import {
  LearnerServiceService, NodeAgentServiceService, RolloutServiceService, SamplerMode, SamplerServiceService, VerifierServiceService,
  type PromptRequest, type RolloutGroup,
} from "@lspo/proto";
import { readModelConfig } from "@lspo/tasks";
import { LONG, SEED, chaosConfig, countsOf, expectAccounted } from "../chaos/support/chaos.js";
import { rawCall, requestArbitraries, samples } from "./support/grpc-requests.js";

const RANDOM_PER_METHOD = LONG ? 400 : 60;
const RAW_PER_METHOD = LONG ? 200 : 30;
type Definition = Record<string, { path: string }>;
interface Outcome {
  method: string;
  calls: number;
  codes: Record<string, number>;
}

/** Calls `method` with each request; checks every answer is OK or INVALID_ARGUMENT naming a request field. */
async function fuzzMethod(call: (req: unknown) => Promise<unknown>, method: string, requests: unknown[], fields: RegExp, extra: grpc.status[] = []): Promise<Outcome> {
  const codes: Record<string, number> = {};
  for (const req of requests) {
    const code = await call(req).then(
      () => grpc.status.OK,
      (err: grpc.ServiceError) => {
        const allowed = [grpc.status.INVALID_ARGUMENT, ...extra];
        expect(allowed, `${method}(${JSON.stringify(req, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}) -> ${grpc.status[err.code]}: ${err.details}`).toContain(err.code);
        if (err.code === grpc.status.INVALID_ARGUMENT) expect(err.details, `${method}: the answer names the field`).toMatch(fields);
        return err.code;
      },
    );
    codes[grpc.status[code]] = (codes[grpc.status[code]] ?? 0) + 1;
  }
  return { method, calls: requests.length, codes };
}

/** Raw random bytes to every method of a service: INVALID_ARGUMENT (undecodable) or, decoded leniently, validated. */
async function fuzzRaw(address: string, definition: Definition, seed: number, creds = grpc.credentials.createInsecure(), md?: grpc.Metadata, extra: grpc.status[] = []) {
  const client = new grpc.Client(address, creds);
  const out: Outcome[] = [];
  for (const [method, { path }] of Object.entries(definition)) {
    const codes: Record<string, number> = {};
    for (const bytes of samples(fcBytes, RAW_PER_METHOD, seed)) {
      const r = await rawCall(client, path, bytes, md);
      expect([grpc.status.OK, grpc.status.INVALID_ARGUMENT, ...extra], `${path} with ${bytes.byteLength} raw bytes -> ${grpc.status[r.code]}: ${r.details}`).toContain(r.code);
      codes[grpc.status[r.code]] = (codes[grpc.status[r.code]] ?? 0) + 1;
    }
    out.push({ method: `${method} (raw bytes)`, calls: RAW_PER_METHOD, codes });
  }
  client.close();
  return out;
}

const fcBytes = fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a));

/** Expects INVALID_ARGUMENT whose message names `field`. */
async function refused(p: Promise<unknown>, field: string, code = "INVALID_ARGUMENT"): Promise<void> {
  const err = (await p.then(() => null, (e: grpc.ServiceError) => e)) as grpc.ServiceError | null;
  expect(err, `expected ${code} naming ${field}, got OK`).not.toBeNull();
  expect(grpc.status[err!.code]).toBe(code);
  expect(err!.details.startsWith(field), `'${err!.details}' should start with ${field}`).toBe(true);
}

const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe("fuzz - every gRPC method validates its request", { timeout: LONG ? 900_000 : 240_000 }, () => {
  it("rollout, verifier, sampler and learner on a running system: INVALID_ARGUMENT naming the field, never INTERNAL; the run completes", async () => {
    const config = chaosConfig("fuzz-grpc", ["run.steps=4"]);
    const report: Outcome[] = [];
    let done = false;
    const onStep = async (step: number, run: RunningRun) => {
      if (done || step < 1) return;
      done = true;
      const model = readModelConfig(run.config.model.dir);
      const V = model.vocabSize;
      const arbs = requestArbitraries(V, run.config.rollout.groupSize);
      const rollout = actorHandle(run.registry, RolloutServiceService, "rollout");
      const verifier = actorHandle(run.registry, VerifierServiceService, "verifier");
      const sampler = actorHandle(run.registry, SamplerServiceService, "sampler");
      const learner = actorHandle(run.registry, LearnerServiceService, "learner");
      const prompt = (over: Partial<PromptRequest> = {}): PromptRequest => ({
        uid: "p", runId: "r", task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from([1, 2, 3])), answer: "1", groupSize: 1, cursor: 0n, ...over,
      });
      const group = (over: Partial<RolloutGroup> = {}): RolloutGroup => ({
        uid: "g", prompt: prompt(), policyVersion: 0n, actor: "t",
        responses: [{ tokenIds: bytesOf(Int32Array.from([4, 5])), logprobs: bytesOf(Float32Array.from([-1, -2])), truncated: false, text: "#### 3" }],
        ...over,
      });
      const sampling = { temperature: 0, topP: 1, topK: 0, maxNewTokens: 4, seed: 0n, stopTokenIds: [] };

      // Hand-written invalid requests, each with the field the answer must name.
      await refused(rollout.call.generate({ prompts: [] }), "prompts");
      await refused(rollout.call.generate({ prompts: [prompt({ promptIds: bytesOf(Int32Array.from([1, V])) })] }), "prompts[0].promptIds[1]");
      await refused(rollout.call.generate({ prompts: [prompt({ promptIds: Buffer.alloc(0), promptText: "" })] }), "prompts[0]");
      await refused(rollout.call.generate({ prompts: [prompt({ groupSize: 0 })] }), "prompts[0].groupSize");
      await refused(rollout.call.generate({ prompts: [prompt({ groupSize: run.config.rollout.groupSize + 1 })] }), "prompts[0].groupSize");
      await refused(rollout.call.generate({ prompts: [prompt({ sampling: { ...sampling, temperature: -1 } })] }), "prompts[0].sampling.temperature");
      await refused(rollout.call.generate({ prompts: [prompt({ sampling: { ...sampling, temperature: NaN } })] }), "prompts[0].sampling.temperature");
      await refused(rollout.call.generate({ prompts: [prompt({ sampling: { ...sampling, topP: 1.5 } })] }), "prompts[0].sampling.topP");
      await refused(rollout.call.generate({ prompts: [prompt({ sampling: { ...sampling, maxNewTokens: model.maxPositionEmbeddings } })] }), "prompts[0]");
      await refused(rollout.call.generate({ prompts: [prompt({ sampling }), prompt({ sampling: { ...sampling, temperature: 1 } })] }), "prompts[1].sampling");
      await refused(verifier.call.verify({}), "group");
      await refused(verifier.call.verify({ group: group({ responses: [] }) }), "group.responses");
      await refused(verifier.call.verify({ group: group({ prompt: undefined }) }), "group.prompt");
      await refused(verifier.call.verify({ group: group({ responses: [{ tokenIds: bytesOf(Int32Array.from([1])), logprobs: bytesOf(Float32Array.from([NaN])), truncated: false, text: "" }] }) }), "group.responses[0].logprobs");
      await refused(verifier.call.verify({ group: group({ responses: [{ tokenIds: bytesOf(Int32Array.from([V + 3])), logprobs: bytesOf(Float32Array.from([-1])), truncated: false, text: "" }] }) }), "group.responses[0].tokenIds[0]");
      await refused(verifier.call.verify({ group: group({ responses: [{ tokenIds: bytesOf(Int32Array.from([1, 2])), logprobs: bytesOf(Float32Array.from([-1])), truncated: false, text: "" }] }) }), "group.responses[0].logprobs");
      await refused(sampler.call.updateConfig({}), "config");
      const cfg = { mode: SamplerMode.SAMPLER_MODE_UNSPECIFIED, batchSize: 0, window: 0, lLow: 0, lHigh: 0, lMax: 0, lengthFilter: run.config.sampler.lengthFilter };
      await refused(sampler.call.updateConfig({ config: { ...cfg, mode: 7 as SamplerMode } }), "config.mode");
      await refused(sampler.call.updateConfig({ config: { ...cfg, lLow: 1.5 } }), "config.lLow");
      await refused(sampler.call.updateConfig({ config: { ...cfg, lMax: NaN } }), "config.lMax");
      await refused(sampler.call.updateConfig({ config: { ...cfg, lLow: 0.9, lHigh: 0.5, lMax: 0.95 } }), "config.lHigh");
      await refused(learner.call.swapAlgorithm({}), "spec.name");
      await refused(learner.call.swapAlgorithm({ spec: { name: "ppo-typo", overrides: {} } }), "spec.name");
      await refused(learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: { clip_low: -1 } } }), "spec.overrides.clip_low");
      await refused(learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: { kl_coef: "lots" } } }), "spec.overrides.kl_coef");

      // Seeded random requests to every method.
      const calls: Array<[string, (r: unknown) => Promise<unknown>, RegExp]> = [
        ["rollout.generate", (r) => rollout.call.generate(r as never), /^prompts/],
        ["rollout.status", (r) => rollout.call.status(r as never), /^$/],
        ["verifier.verify", (r) => verifier.call.verify(r as never), /^group/],
        ["verifier.status", (r) => verifier.call.status(r as never), /^$/],
        ["sampler.stats", (r) => sampler.call.stats(r as never), /^$/],
        ["sampler.refill", (r) => sampler.call.refill(r as never), /^$/],
        ["sampler.updateConfig", (r) => sampler.call.updateConfig(r as never), /^config/],
        ["sampler.status", (r) => sampler.call.status(r as never), /^$/],
        ["learner.swapAlgorithm", (r) => learner.call.swapAlgorithm(r as never), /^spec/],
        ["learner.checkpoint", (r) => learner.call.checkpoint(r as never), /^$/],
        ["learner.status", (r) => learner.call.status(r as never), /^$/],
      ];
      for (const [name, call, fields] of calls) {
        const method = name.split(".")[1];
        report.push(await fuzzMethod(call, name, samples(arbs[method], RANDOM_PER_METHOD, SEED), fields));
      }
      // Raw bytes to every method of each service.
      for (const [group, definition] of [["rollout", RolloutServiceService], ["verifier", VerifierServiceService], ["sampler", SamplerServiceService], ["learner", LearnerServiceService]] as const) {
        const [actor] = await run.registry.resolve(group);
        report.push(...(await fuzzRaw(actor.grpcAddress, definition as unknown as Definition, SEED)).map((o) => ({ ...o, method: `${group}.${o.method}` })));
      }
      // Put back what valid random calls changed, so the run finishes as configured.
      const s = run.config.sampler;
      await sampler.call.updateConfig({ config: { mode: SamplerMode.SAMPLER_MODE_STREAM, batchSize: s.batchSize, window: s.window, lLow: s.lLow, lHigh: s.lHigh, lMax: s.lMax, lengthFilter: s.lengthFilter } });
      await learner.call.swapAlgorithm({ spec: { name: run.config.learner.algorithm.name, overrides: {} } });
      for (const h of [rollout, verifier, sampler, learner]) h.close();
    };
    const s = await train(config, { quiet: true, onStep });
    console.log(JSON.stringify({ scenario: "grpc-fuzz", report, summary: countsOf(s) }));
    expect(done).toBe(true);
    expect(s.restarts).toBe(0);
    expect(s.steps).toBe(4);
    expectAccounted(s);
  });

  it("node agent: StartActors / StopActor / ListActors validate every field before starting anything", async () => {
    const nats: NatsServer = await startNatsServer();
    cleanup.push(() => nats.stop());
    const nc: NatsConnection = await connectBus({ url: nats.url });
    cleanup.push(() => nc.close());
    // Valid requests start a harmless process (the agent's validation is under test, not an actor).
    const agent = await NodeAgent.start(nc, {
      runId: "fuzz", node: "fuzz-node", cpus: 64, kinds: ["sleeper"], stdio: "ignore", drainMs: 2000,
      launcher: () => ({ command: process.execPath, args: ["-e", "setTimeout(() => {}, 600000)"] }),
    });
    cleanup.push(() => agent.stop());
    const client = connectClient(NodeAgentServiceService, agent.address);
    cleanup.push(async () => client.close());
    const start = { kind: "sleeper", namePrefix: "", count: 1, names: [] as string[], configJson: "{}", maxRestarts: 0 };
    await refused(client.call.startActors({ ...start, kind: "" }), "kind");
    await refused(client.call.startActors({ ...start, kind: "rolout" }), "kind");
    await refused(client.call.startActors({ ...start, count: 0 }), "count");
    await refused(client.call.startActors({ ...start, count: 10_000 }), "count");
    await refused(client.call.startActors({ ...start, namePrefix: "../../tmp/x" }), "namePrefix");
    await refused(client.call.startActors({ ...start, perActor: { cpus: NaN, gpuIds: [], gpus: 0, memoryBytes: 0n } }), "perActor.cpus");
    await refused(client.call.startActors({ ...start, perActor: { cpus: 1, gpuIds: [], gpus: 0.5, memoryBytes: 0n } }), "perActor.gpus");
    await refused(client.call.startActors({ ...start, maxRestarts: -5 }), "maxRestarts");
    await refused(client.call.startActors({ ...start, names: ["a", "b"] }), "names");
    await refused(client.call.startActors({ ...start, names: ["../x"] }), "names[0]");
    await refused(client.call.startActors({ ...start, configJson: "{not json" }), "configJson");
    await refused(client.call.startActors({ ...start, configJson: JSON.stringify({ rollout: { actors: "two" } }) }), "configJson");
    await refused(client.call.stopActor({ name: "" }), "name");
    await refused(client.call.stopActor({ name: "nobody" }), "name", "NOT_FOUND");
    expect(agent.list()).toEqual([]); // nothing was started by any refused request

    const arbs = requestArbitraries(64, 4);
    const report: Outcome[] = [];
    // A valid request the node cannot fit (GPUs on a CPU node) is RESOURCE_EXHAUSTED: the caller may try elsewhere.
    report.push(await fuzzMethod((r) => client.call.startActors(r as never), "agent.startActors", samples(arbs.startActors, RANDOM_PER_METHOD, SEED), /^(kind|count|namePrefix|names|perActor|maxRestarts|configJson)/, [grpc.status.RESOURCE_EXHAUSTED]));
    // A name the agent does not run is NOT_FOUND (what stopping a registry's leftover record takes as gone).
    report.push(await fuzzMethod((r) => client.call.stopActor(r as never), "agent.stopActor", samples(arbs.stopActor, RANDOM_PER_METHOD, SEED), /^name/, [grpc.status.NOT_FOUND]));
    report.push(await fuzzMethod((r) => client.call.listActors(r as never), "agent.listActors", samples(arbs.listActors, 10, SEED), /^$/));
    report.push(...(await fuzzRaw(agent.address, NodeAgentServiceService as unknown as Definition, SEED, undefined, undefined, [grpc.status.RESOURCE_EXHAUSTED, grpc.status.NOT_FOUND])));
    console.log(JSON.stringify({ scenario: "grpc-fuzz-agent", report, started: agent.list().length }));
    // Only well-formed requests started anything, and only sleepers with valid names.
    for (const a of agent.list()) expect(a.name).toMatch(/^[A-Za-z0-9_-]+$/);
  });
});
