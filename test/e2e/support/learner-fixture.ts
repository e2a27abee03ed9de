// A real learner process (`lspo serve learner`) on a private NATS, fed deterministic training batches and
// reporting its metrics over run events: what the learner restart tests share, so each says only what it
// does to the learner and what it expects. Registers the file's before/after hooks.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll } from "vitest";
import {
  bytesOf, jetstream, jetstreamManager, publishMessage, readEvents, startLocalBus, subjectFor, type EventReader, type LocalBus,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import type { TrainingBatch, VerifiedGroup } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";

const root = resolve(import.meta.dirname, "../../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");

export interface LearnerFixture {
  /** The NATS the learners and the test share; set once the file's beforeAll has run. */
  readonly bus: LocalBus;
  /** Starts `lspo serve learner` for `run` (DAPO, checkpoint every 2 steps) with its run dir `dir`. */
  startLearner(run: string, dir: string): ChildProcess;
  /** Publishes batches `from` to `to - 1` of `run`, each with a message id, so a repeat is stored once. */
  publishBatches(run: string, from: number, to: number): Promise<void>;
  /** Calls `onMetric` with each metric record (update, swap, ...) the learners of `run` report. */
  readMetrics(run: string, onMetric: (record: Record<string, any>) => void): Promise<void>;
}

/** `steps`: the learner's run.steps, after which it stops training. */
export function learnerFixture(steps: number): LearnerFixture {
  let bus: LocalBus;
  let modelDir: string;
  const readers: EventReader[] = [];
  beforeAll(async () => {
    bus = await startLocalBus({ streams: true });
    modelDir = join(mkdtempSync(join(tmpdir(), "lspo-learner-model-")), "model");
    writeModelDir(modelDir, createModelFromSpec({ seed: 3, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } }));
  });
  afterAll(async () => {
    for (const r of readers) await r.stop();
    await bus?.stop();
  });

  return {
    get bus() {
      return bus;
    },
    startLearner(run, dir) {
      const config = resolveConfig({
        run: { name: run, dir, steps, maxOffPolicySteps: 100 },
        nats: { url: bus.server.url },
        model: { dir: modelDir },
        rollout: { maxNewTokens: 8 },
        learner: { algorithm: { name: "dapo" }, lr: 0.01, checkpointEvery: 2 },
      });
      return spawn(process.execPath, ["--conditions=source", "--import", tsx, cli, "serve", "learner"], {
        env: { ...process.env, LSPO_ACTOR_CONFIG: JSON.stringify(config), LSPO_ACTOR_NAME: `learner-${run}`, LSPO_THREADS: "1" },
        stdio: ["ignore", openSync(join(dir, `learner-${process.hrtime.bigint()}.log`), "a"), openSync(join(dir, `learner-err.log`), "a")],
      });
    },
    async publishBatches(run, from, to) {
      const js = jetstream(bus.nc);
      for (let k = from; k < to; k++) await publishMessage(js, subjectFor("batches", run), "TrainingBatch", trainingBatch(k), { msgId: `${run}-${k}` });
    },
    // The learner reports over NATS (LSPO_EVENTS), not to a file: records arrive as it makes them.
    async readMetrics(run, onMetric) {
      readers.push(await readEvents(jetstream(bus.nc), await jetstreamManager(bus.nc), run, 1, (e) => void (e.kind === "metric" && onMetric(e.body))));
    },
  };
}

/** Deterministic batch `k`: 2 groups of 3 responses with mixed rewards and varying lengths. */
function trainingBatch(k: number): TrainingBatch {
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
  return { batchIndex: BigInt(k), groups, objectRef: "", groupRefs: [] };
}
