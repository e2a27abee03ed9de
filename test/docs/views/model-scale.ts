// bench/results/model-scale.json (npm run bench -- model-scale): docs/BENCHMARKS.md, "Real model sizes".
// Each step's time and peak RSS, and for the processes that run the model, the memory model's estimate
// (libs/model memory.ts) from the artifact's config beside the measured peak.
import { GIB, inferenceMemory, parameterCount, parseConfigJson, type MemoryEstimate } from "@lspo/model";
import { grouped } from "../support/format.js";
import type { View } from "./view.js";

interface Step { step: string; seconds: number; peakRssMiB: number }
interface Scale {
  config: Record<string, unknown>;
  files: Record<string, Array<{ file: string; bytes: number }>>;
  steps: Step[];
  published: { sizeBytes: number; shards: number; publishS: number };
  followed: { syncS: number; synced: boolean };
  arrived: boolean;
  /** Set by runs whose follower writes a version into its weights in place, a shard at a time. */
  followInPlace?: boolean;
}

/** What the memory model says each step's process holds; null for steps it does not model (initialisation). */
function estimateOf(step: string, d: Scale): MemoryEstimate | null {
  const c = parseConfigJson(d.config);
  // One prompt of a dozen tokens and 16 new ones; the rollout side decodes 4 after taking the version.
  if (step.startsWith("generate")) return inferenceMemory(c, { rows: 1, seq: 64 });
  if (step.startsWith("publish")) return inferenceMemory(c, { rows: 0, seq: 0 });
  // The follower is what the run's code did at the artifact's commit: before in-place updates it held the
  // old weights and every shard of the new version together (4 B per parameter more).
  if (step.startsWith("follow")) return inferenceMemory(c, d.followInPlace ? { rows: 1, seq: 64, incomingShardBytes: 512 * 2 ** 20 } : { rows: 1, seq: 64, incomingShardBytes: 4 * parameterCount(c) });
  return null;
}

const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`;

export const views: Record<string, View> = {
  files: (d: Scale) => ({
    table: [
      ["model", "parameters", "bf16, one file", "fp32 shards"],
      [null, `${(parameterCount(parseConfigJson(d.config)) / 1e9).toFixed(2)}B`,
        `${d.files.bf16.map((f) => `${(f.bytes / 1e9).toFixed(2)} GB`).join(" + ")}`,
        `${d.files.fp32.length} files, ${(d.files.fp32.reduce((n, f) => n + f.bytes, 0) / 1e9).toFixed(2)} GB`],
    ],
  }),
  steps: (d: Scale) => ({
    table: [
      ["step", "time", "peak RSS", "memory model", "estimate / measured"],
      ...d.steps.map((s) => {
        const e = estimateOf(s.step, d);
        const measured = s.peakRssMiB * 2 ** 20;
        return [s.step, `${s.seconds.toFixed(1)} s`, gib(measured), e ? gib(e.bytes) : "—", e ? (e.bytes / measured).toFixed(2) : "—"];
      }),
    ],
  }),
  publish: (d: Scale) => ({
    quotes: [
      `${(d.published.sizeBytes / 1e9).toFixed(2)} GB`,
      `${d.published.shards} shards`,
      `${d.published.publishS.toFixed(1)} s`,
      `${d.followed.syncS.toFixed(1)} s`,
      d.arrived ? "arrived: every shard's SHA-256 matched" : "did not arrive",
      `${grouped(Math.round(d.published.sizeBytes / 2 ** 20 / d.published.publishS), " ")} MiB/s`,
    ],
  }),
};

// The 0.5B end-to-end part (d.train): the two `lspo train` runs, each process's peak beside the memory model,
// and tokens/s beside PyTorch CPU eager on the same shapes.
interface TrainRun {
  label: string;
  wallSeconds: number;
  steps: number;
  lost: number;
  duplicates: number;
  restarts: number;
  peaks: Record<string, { peakGiB: number }>;
  checkpoints: { dir: string; bytes: number }[];
  updates: { step: number; seconds: number; tokens: number }[];
}
interface TrainPart {
  params: number;
  shape: { rows: number; seq: number; promptLen: number; newTokens: number; microBatch: number; optimizerStepsPerUpdate: number; threads: number; learner: { recompute: boolean } };
  runs: TrainRun[];
  memory: { role: string; run: string; measuredBytes: number; estimateBytes: number; ratio: number }[];
  goals: { learnerPeak: { peakBytes: number; met: boolean; metDecimal: boolean }; rolloutPeak: { peakBytes: number; met: boolean; metDecimal: boolean }; memoryModelWithin25: { met: boolean } };
  ours: { generationTokensPerS: number; generation: { tokens: number; seconds: number }; trainingTokensPerS: number; training: { tokens: number; seconds: number } };
  torch: { threads: number; generation: { tokens_per_s: number; seconds: number }; training: { tokens_per_s: number; best_step_s: number; micro_rows: number }; peak_rss_bytes: number };
  comparison: { generationOursOverTorch: number; trainingOursOverTorch: number };
}
const trainOf = (d: { train?: TrainPart }): TrainPart => {
  if (!d.train) throw new TypeError("the artifact has no 'train' part (npm run bench -- model-scale runs it)");
  return d.train;
};
// The issue's "12 GB" on a machine it calls 24 GB (24 GiB): both readings are shown.
const goalText = (g: { peakBytes: number; met: boolean; metDecimal: boolean }, limit: number) =>
  `${gib(g.peakBytes)} (${(g.peakBytes / 1e9).toFixed(2)} GB): ${g.metDecimal ? `met (at most ${limit} GB)` : g.met ? `within ${limit} GiB, over ${limit} GB decimal` : `not met (over ${limit} GiB)`}`;

Object.assign(views, {
  "train-runs": (d: { train?: TrainPart }) => ({
    table: [
      ["run", "wall time", "steps", "lost / duplicates / restarts", "learner peak", "rollout actor peak", "checkpoint"],
      ...trainOf(d).runs.map((r) => [r.label, `${Math.round(r.wallSeconds)} s`, String(r.steps), `${r.lost} / ${r.duplicates} / ${r.restarts}`,
        gib(r.peaks.learner.peakGiB * GIB), gib(r.peaks.rollout.peakGiB * GIB), `${(r.checkpoints[r.checkpoints.length - 1].bytes / 1e9).toFixed(2)} GB`]),
    ],
  }),
  "train-memory": (d: { train?: TrainPart }) => ({
    table: [
      ["process", "run", "measured peak", "memory model", "estimate / measured"],
      ...trainOf(d).memory.map((m) => [m.role, m.run, gib(m.measuredBytes), gib(m.estimateBytes), m.ratio.toFixed(2)]),
    ],
  }),
  "train-speed": (d: { train?: TrainPart }) => {
    const t = trainOf(d);
    return {
      table: [
        ["", "ours", "PyTorch 1.13 CPU eager", "ours / PyTorch"],
        ["generation (16 rows, 128 new tokens, prefill included)", `${t.ours.generationTokensPerS.toFixed(1)} tokens/s`, `${t.torch.generation.tokens_per_s.toFixed(1)} tokens/s`, `${t.comparison.generationOursOverTorch.toFixed(2)}x`],
        ["training step (one update: 4 optimizer steps)", `${t.ours.trainingTokensPerS.toFixed(1)} tokens/s`, `${t.torch.training.tokens_per_s.toFixed(1)} tokens/s`, `${t.comparison.trainingOursOverTorch.toFixed(2)}x`],
      ],
    };
  },
  "train-goals": (d: { train?: TrainPart }) => {
    const t = trainOf(d);
    return {
      quotes: [
        `${(t.params / 1e6).toFixed(1)}M parameters`,
        `learner: ${goalText(t.goals.learnerPeak, 12)}`,
        `rollout actor: ${goalText(t.goals.rolloutPeak, 4)}`,
        `memory model within 25%: ${t.goals.memoryModelWithin25.met ? "met" : "not met"}`,
      ],
    };
  },
});
