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
