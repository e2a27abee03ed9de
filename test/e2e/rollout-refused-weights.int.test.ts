// Weights with a NaN in them, published while rollout actors run (`lspo serve rollout`, real nats-server, real
// ORT sessions), in both of the actor's modes, and with two actors. Each actor refuses the version and says so,
// once. The prompts it holds wait with their ack deadlines kept: none is generated, redelivered or dead-lettered,
// under an ack wait far shorter than the hold. A gRPC Generate call is refused, naming the tensor. Then the learner publishes a
// good version, and every held prompt comes out under it, each delivered once.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, bytesOf, connectBus, decodeEnvelope, ensureStreams, jetstream, jetstreamManager, publishMessage, startNatsServer, subjectFor,
  type JetStreamClient, type JetStreamManager, type NatsConnection, type NatsServer,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec, type Weights } from "@lspo/model";
import { WeightsPublisher } from "@lspo/learner";
import { RolloutServiceService, type PromptRequest, type RolloutGroup } from "@lspo/proto";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { writeModelDir } from "@lspo/tasks";
import { startService, type Service } from "../../bench/lib/serve.js";
import { until } from "./support/wait.js";

const G = 2;
const FIRST = 4; // prompts generated under the model directory's weights, before the bad version lands
const HELD = 10; // prompts published after it (more than the actors take: some wait in the stream)
const ACK_WAIT_MS = 3000; // the hold lasts well past it: a held prompt must be kept alive, not redelivered

let dir: string;
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const services: Service[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-refused-"));
  server = await startNatsServer({ storeDir: join(dir, "nats") });
  nc = await connectBus({ url: server.url, name: "rollout-refused-weights" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
  writeModelDir(join(dir, "model"), model);
}, 60_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const model = createModelFromSpec({
  seed: 8,
  initializer_range: 0.3,
  model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 128, tie_word_embeddings: true },
});

/** The model's weights, each moved a little, with `nan` written into one value of one tensor when given. */
function version(seed: number, nan?: { tensor: string; index: number }): Weights {
  let s = seed;
  return new Map([...model.weights].map(([name, t]) => {
    const data = Float32Array.from(t.data as Float32Array, (x) => ((s = (s * 1103515245 + 12345) >>> 0), x + ((s / 2 ** 32) - 0.5) * 0.1));
    if (nan?.tensor === name) data[nan.index] = Number.NaN;
    return [name, { ...t, data }];
  }));
}

const promptOf = (run: string, i: number): PromptRequest => ({
  uid: `${run}-p${i}`, runId: run, task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from([3 + i, 7, 11])), answer: "", groupSize: G, cursor: BigInt(i),
});

async function publishPrompts(run: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) await publishMessage(js, subjectFor("prompts", run), "PromptRequest", promptOf(run, i), { msgId: `prompt-${run}-${i}` });
}

async function groups(run: string): Promise<RolloutGroup[]> {
  const { state } = await jsm.streams.info(STREAMS.rollouts.name);
  const out: RolloutGroup[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(STREAMS.rollouts.name, { seq }).catch(() => null);
    if (m?.subject === subjectFor("rollouts", run)) out.push(decodeEnvelope(m.data, "RolloutGroup").body as RolloutGroup);
  }
  return out;
}

const count = async (stream: string, subject: string) => (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
/** Dead letters that name the run in their subject. */
const deadLetters = async (run: string) =>
  Object.entries((await jsm.streams.info(STREAMS.deadLetters.name, { subjects_filter: ">" })).state.subjects ?? {}).filter(([s]) => s.includes(run)).reduce((n, [, c]) => n + c, 0);

describe("e2e - a rollout actor refuses weights that hold a NaN, and holds its prompts until good weights come", { timeout: 180_000 }, () => {
  // The call mode with two actors held for 6 ack waits: the prompts their clients pulled ahead of a call are not
  // kept alive, and nothing takes them elsewhere either (neither client has a pull waiting), so none moves.
  for (const { mode, actors, holdAckWaits } of [
    { mode: "calls", actors: 2, holdAckWaits: 6 },
    { mode: "continuous", actors: 1, holdAckWaits: 2.5 },
  ] as const) {
    it(`${mode} mode, ${actors} actor(s), held for ${holdAckWaits} ack waits`, async () => {
      const run = `refused-${mode}`;
      const config = resolveConfig({
        run: { name: run, dir: join(dir, run), seed: 3 },
        nats: { url: server.url },
        model: { dir: join(dir, "model") },
        rollout: { actors, groupSize: G, promptsPerCall: 2, maxNewTokens: 16, temperature: 1, ackWaitMs: ACK_WAIT_MS, ...(mode === "continuous" ? { maxRows: 4 } : {}) },
      });
      const names = Array.from({ length: actors }, (_, i) => `rollout-${mode}-${i}`);
      const started = names.map((name) => startService("rollout", config, { name, logDir: dir, readyTimeoutMs: 60_000 }));
      services.push(...started);
      await Promise.all(started.map((a) => a.ready));
      const alive = () => {
        for (const a of started) if (a.child.exitCode !== null) throw new Error(`${a.name} exited (${a.child.exitCode}); log ${a.logPath}`);
      };

      await publishPrompts(run, 0, FIRST);
      await until("the first groups", async () => (alive(), (await count(STREAMS.rollouts.name, subjectFor("rollouts", run))) >= FIRST), 60_000);

      const publisher = await WeightsPublisher.open(nc, run);
      await publisher.publish(version(11, { tensor: "model.layers.0.self_attn.q_proj.weight", index: 5 }), 1, 1);
      await publishPrompts(run, FIRST, FIRST + HELD);
      const registry = await ActorRegistry.open(nc, { runId: run });
      const handles = names.map((name) => actorHandle(registry, RolloutServiceService, name, { deadlineMs: 10_000 }));
      const counters = async (i: number) => ((await handles[i].call.status({}).catch(() => null))?.status?.counters ?? {}) as Record<string, number>;
      await until("the refusals", async () => (alive(), (await Promise.all(names.map((_, i) => counters(i)))).every((c) => c.weightsRefused === 1)), 30_000);
      // Held: nothing generated, redelivered or dead-lettered, the prompts in hand.
      await new Promise((r) => setTimeout(r, holdAckWaits * ACK_WAIT_MS));
      alive();
      expect(await count(STREAMS.rollouts.name, subjectFor("rollouts", run))).toBe(FIRST);
      const consumer = `rollout-${run}`;
      const held = await jsm.consumers.info(STREAMS.prompts.name, consumer);
      expect(held.num_redelivered).toBe(0);
      expect(held.num_ack_pending).toBeGreaterThan(0);
      for (let i = 0; i < actors; i++) {
        const status = await counters(i);
        expect(status.weightsRefused).toBe(1);
        expect(status.policyVersion).toBe(0);
        expect(status.promptsInHand).toBeGreaterThan(0);
      }
      // An evaluation call is refused with the reason, not served with the old weights.
      const call = await handles[0].call.generate({ prompts: [promptOf(run, 99)] }).catch((e: Error & { code?: number }) => e);
      expect(call).toBeInstanceOf(Error);
      expect((call as { code?: number }).code).toBe(9); // FAILED_PRECONDITION
      expect((call as Error).message).toContain("weights v1: tensor 'model.layers.0.self_attn.q_proj.weight' holds NaN at flat index 5 of 1024");

      // The learner's next version is good: every held prompt comes out under it, each delivered once.
      await publisher.publish(version(12), 2, 2);
      await until("every group", async () => (alive(), (await count(STREAMS.rollouts.name, subjectFor("rollouts", run))) >= FIRST + HELD), 60_000);
      const out = await groups(run);
      expect(out.map((g) => g.uid).sort()).toEqual(Array.from({ length: FIRST + HELD }, (_, i) => promptOf(run, i).uid).sort());
      const versionOf = new Map(out.map((g) => [g.uid, Number(g.policyVersion)]));
      expect(Array.from({ length: HELD }, (_, i) => versionOf.get(promptOf(run, FIRST + i).uid))).toEqual(Array(HELD).fill(2));
      await until("the prompt consumer drained", async () => {
        const c = await jsm.consumers.info(STREAMS.prompts.name, consumer);
        return c.num_ack_pending === 0 && c.num_pending === 0;
      }, 30_000);
      expect((await jsm.consumers.info(STREAMS.prompts.name, consumer)).num_redelivered).toBe(0);
      expect(await deadLetters(run)).toBe(0);
      for (const a of started) {
        const refusals = readFileSync(a.logPath, "utf8").split("\n").filter((l) => l.includes("weights refused"));
        expect(refusals.length, a.name).toBe(1);
        expect(refusals[0]).toContain("holds NaN at flat index 5");
        await a.stop();
        expect(a.child.exitCode, a.name).toBe(0);
      }
    });
  }
});
