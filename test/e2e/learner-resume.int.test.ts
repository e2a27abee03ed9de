// A learner SIGKILLed mid-run and restarted resumes from its last checkpoint and replays the batches after
// it: its next updates match an uninterrupted learner's bit for bit (same batches, same seed, same weights
// published). Real processes (`lspo serve learner`), real NATS, real ORT.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, existsSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KV_BUCKETS, bytesOf, connectBus, ensureStreams, jetstream, jetstreamManager, kvGet, openKv, publishMessage, readEvents, startNatsServer,
  subjectFor, type EventReader, type NatsConnection, type NatsServer,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import type { TrainingBatch, VerifiedGroup, WeightsRef } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";

const root = resolve(import.meta.dirname, "../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
let server: NatsServer;
let nc: NatsConnection;
let modelDir: string;
const STEPS = 6;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url });
  await ensureStreams(await jetstreamManager(nc));
  modelDir = join(mkdtempSync(join(tmpdir(), "lspo-resume-")), "model");
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

// The learner reports its updates over NATS (LSPO_EVENTS), not to a file: collected per run as they arrive.
const received = new Map<string, Array<Record<string, any>>>();
const readers: EventReader[] = [];
async function collectUpdates(run: string): Promise<void> {
  const list: Array<Record<string, any>> = [];
  received.set(run, list);
  readers.push(await readEvents(jetstream(nc), await jetstreamManager(nc), run, 1, (e) => void (e.kind === "metric" && e.body.event === "update" && list.push(e.body))));
}
const updates = (run: string) => received.get(run) ?? [];

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 120_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));

describe("learner - resume from checkpoint", { timeout: 300_000 }, () => {
  it("continues from the exact step with the same losses and weights as an uninterrupted run", async () => {
    const js = jetstream(nc);
    const publish = async (run: string, from: number, to: number) => {
      for (let k = from; k < to; k++) await publishMessage(js, subjectFor("batches", run), "TrainingBatch", batch(k), { msgId: `${run}-${k}` });
    };
    await collectUpdates("straight");
    await collectUpdates("resumed");
    await publish("straight", 0, STEPS);
    const straightDir = mkdtempSync(join(tmpdir(), "lspo-straight-"));
    const a = startLearner("straight", straightDir);
    await until("6 straight updates", () => updates("straight").length >= STEPS);
    a.kill("SIGTERM");
    await exited(a);

    const resumedDir = mkdtempSync(join(tmpdir(), "lspo-resumed-"));
    // Three batches only: the learner checkpoints at step 2, makes step 3, and is killed before the rest exist.
    await publish("resumed", 0, 3);
    const b1 = startLearner("resumed", resumedDir);
    await until("a checkpoint at step 2 and a third update", () => existsSync(join(resumedDir, "checkpoints/step-000002")) && updates("resumed").length >= 3);
    b1.kill("SIGKILL");
    await exited(b1);
    const before = updates("resumed").length;
    expect(before).toBe(3);
    await publish("resumed", 3, STEPS);
    const b2 = startLearner("resumed", resumedDir);
    await until("the resumed learner to finish", () => updates("resumed").length >= before + (STEPS - 2));
    b2.kill("SIGTERM");
    await exited(b2);

    const straight = updates("straight");
    const resumed = updates("resumed").slice(before);
    // Resumed at step 2 (the checkpoint), it redoes steps 3..6 on batches 2..5.
    expect(resumed.map((u) => u.step)).toEqual([3, 4, 5, 6]);
    expect(resumed.map((u) => u.batchIndex)).toEqual([2, 3, 4, 5]);
    expect(resumed.map((u) => u.loss)).toEqual(straight.slice(2).map((u) => u.loss));
    expect(resumed.map((u) => u.gradNorm)).toEqual(straight.slice(2).map((u) => u.gradNorm));
    const kv = await openKv(nc, KV_BUCKETS.weights);
    const wa = (await kvGet<WeightsRef>(kv, "straight", "WeightsRef"))!.value;
    const wb = (await kvGet<WeightsRef>(kv, "resumed", "WeightsRef"))!.value;
    expect(Number(wb.version)).toBe(STEPS);
    expect(wb.sha256).toBe(wa.sha256);
  });
});
