// A hot swap survives a learner SIGKILL: the swap is written to KV when SwapAlgorithm accepts it; the learner,
// killed right after (before any checkpoint holds the swap) and restarted from its last checkpoint, applies
// it at the same update, so the swapped algorithm trains the next update; metrics (what summary.json lists)
// and the next checkpoint agree. Real processes (`lspo serve learner`), real NATS, real ORT.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KV_BUCKETS, bytesOf, connectBus, ensureStreams, jetstream, jetstreamManager, kvGet, openKv, publishMessage, readEvents, startNatsServer,
  subjectFor, type EventReader, type NatsConnection, type NatsServer,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { LearnerServiceService } from "@lspo/proto";
import { createModelFromSpec } from "@lspo/model";
import type { TrainingBatch, VerifiedGroup, WeightsRef } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";

const root = resolve(import.meta.dirname, "../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
let server: NatsServer;
let nc: NatsConnection;
let modelDir: string;
const STEPS = 4;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url });
  await ensureStreams(await jetstreamManager(nc));
  modelDir = join(mkdtempSync(join(tmpdir(), "lspo-swapkill-")), "model");
  writeModelDir(modelDir, createModelFromSpec({ seed: 3, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } }));
});
afterAll(async () => {
  for (const r of readers) await r.stop();
  await nc?.close();
  await server?.stop();
});

/** Deterministic batches: 2 groups of 3 responses with mixed rewards and varying lengths. */
function batch(k: number): TrainingBatch {
  const groups: VerifiedGroup[] = [0, 1].map((g) => {
    const prompt = Int32Array.from([5 + k, 6 + g, 7, 8]);
    const responses = [0, 1, 2].map((r) => {
      const n = 2 + ((k + g + r) % 4);
      return {
        tokenIds: bytesOf(Int32Array.from({ length: n }, (_, i) => 10 + ((k * 7 + g * 3 + r + i) % 50))),
        logprobs: bytesOf(Float32Array.from({ length: n }, (_, i) => -1 - 0.1 * ((i + r) % 3))),
        truncated: false,
        text: "",
      };
    });
    return {
      group: {
        uid: `b${k}-g${g}`,
        prompt: { uid: `b${k}-g${g}`, runId: "r", task: "t", promptText: "", promptIds: bytesOf(prompt), answer: "1", groupSize: 3, cursor: BigInt(k) },
        responses,
        policyVersion: BigInt(k),
        actor: "test",
      },
      rewards: [1, 0, (k + g) % 2],
      correct: [true, false, (k + g) % 2 === 1],
    };
  });
  return { batchIndex: BigInt(k), groups, objectRef: "" };
}

function startLearner(run: string, dir: string): ChildProcess {
  const config = resolveConfig({
    run: { name: run, dir, steps: STEPS, maxOffPolicySteps: 100 },
    nats: { url: server.url },
    model: { dir: modelDir },
    rollout: { maxNewTokens: 8 },
    learner: { algorithm: { name: "dapo" }, lr: 0.01, checkpointEvery: 2 },
  });
  return spawn(process.execPath, ["--conditions=source", "--import", tsx, cli, "serve", "learner"], {
    env: { ...process.env, LSPO_ACTOR_CONFIG: JSON.stringify(config), LSPO_ACTOR_NAME: `learner-${run}`, LSPO_THREADS: "1" },
    stdio: ["ignore", openSync(join(dir, `learner-${process.hrtime.bigint()}.log`), "a"), openSync(join(dir, `learner-err.log`), "a")],
  });
}

// The learner reports its records over NATS (LSPO_EVENTS), not to a file: collected as they arrive.
const metricRecords: Array<Record<string, any>> = [];
const readers: EventReader[] = [];
async function collectMetrics(run: string): Promise<void> {
  readers.push(await readEvents(jetstream(nc), await jetstreamManager(nc), run, 1, (e) => void (e.kind === "metric" && metricRecords.push(e.body))));
}
const updates = (_dir: string) => metricRecords.filter((r) => r.event === "update");

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 120_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));

describe("learner - a hot swap survives SIGKILL", { timeout: 300_000 }, () => {
  it("swap accepted at step 2, learner killed before step 3: after the restart step 3 trains with GSPO", async () => {
    const js = jetstream(nc);
    const run = "swapkill";
    const publish = async (from: number, to: number) => {
      for (let k = from; k < to; k++) await publishMessage(js, subjectFor("batches", run), "TrainingBatch", batch(k), { msgId: `${run}-${k}` });
    };
    const dir = mkdtempSync(join(tmpdir(), "lspo-swapkill-run-"));
    await collectMetrics(run);
    await publish(0, 2);
    const first = startLearner(run, dir);
    await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002")) && updates(dir).length >= 2);
    const registry = await ActorRegistry.open(nc, { runId: run });
    const learner = actorHandle(registry, LearnerServiceService, "learner");
    const res = await learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: {} } });
    learner.close();
    expect(Number(res.effectiveStep)).toBe(3);
    first.kill("SIGKILL"); // the swap lives only in KV now: the checkpoint at step 2 predates it
    await exited(first);
    const stateAt2 = JSON.parse(readFileSync(join(dir, "checkpoints/step-000002/state.json"), "utf8"));
    expect(stateAt2.algorithm.active.name).toBe("dapo");
    expect(stateAt2.algorithm.pending).toBeNull();

    await publish(2, STEPS);
    const second = startLearner(run, dir);
    await until("steps 3 and 4 after the restart", () => updates(dir).filter((u) => u.step >= 3).length >= 2);
    await until("the checkpoint at step 4", () => existsSync(join(dir, "checkpoints/step-000004/state.json")));
    second.kill("SIGTERM");
    await exited(second);

    const after = updates(dir).filter((u) => u.step >= 3);
    expect(after.map((u) => [u.step, u.algorithm])).toEqual([[3, "gspo"], [4, "gspo"]]);
    const swaps = metricRecords.filter((r) => r.event === "swap");
    expect(swaps.map((s) => [s.step, s.from, s.to])).toEqual([[3, "dapo", "gspo"]]);
    const stateAt4 = JSON.parse(readFileSync(join(dir, "checkpoints/step-000004/state.json"), "utf8"));
    expect(stateAt4.algorithm.active.name).toBe("gspo");
    expect(stateAt4.algorithm.events.map((e: { step: number; to: string }) => [e.step, e.to])).toEqual([[3, "gspo"]]);
  });
});
