// bench/results/sampler.json (npm run bench -- sampler): docs/BENCHMARKS.md, "Sampler".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { millionsPerS, spreadOf, times } from "../support/format.js";
import type { View } from "./view.js";

interface Row {
  structure: string;
  window: number;
  offerRuns: number[];
  offerGroupsPerCpuSec: number;
  windowOnlyGroupsPerCpuSec: number;
  bytesPerEntryMeasured: number;
  fillSeconds: number;
}

const windowName = (w: number) => (w >= 1e6 ? `${w / 1e6}M` : `${w / 1e3}k`);
const bytes = (b: number) => `${b < 20 ? b.toFixed(1) : b.toFixed(0)} B`;
const offer = (r: Row) => {
  const s = spreadOf(r.offerRuns);
  return `${millionsPerS(s.median)} (${(s.min / 1e6).toFixed(2)}–${millionsPerS(s.max)})`;
};
const row = (rows: Row[], structure: string, window: number) => rows.find((r) => r.structure === structure && r.window === window)!;

/** The goal: at least 1M groups/s at W = 100k, judged on the wall-clock median of the runs. */
const GOAL = 1e6;

export const views: Record<string, View> = {
  offer: (d: { rows: Row[] }) => ({
    table: [
      ["W", "structure", "offer, wall clock: median (min–max)", "offer, per CPU-s", "window only, per CPU-s", "memory per window entry"],
      ...d.rows.map((r) => [
        windowName(r.window),
        r.structure === "fenwick" ? "fenwick (default)" : r.structure,
        offer(r),
        millionsPerS(r.offerGroupsPerCpuSec),
        millionsPerS(r.windowOnlyGroupsPerCpuSec),
        bytes(r.bytesPerEntryMeasured),
      ]),
    ],
  }),
  goal: (d: { rows: Row[] }) => {
    const r = row(d.rows, "fenwick", 100_000);
    const s = spreadOf(r.offerRuns);
    return {
      quotes: [
        `at W = 100k: ${judgeGoal(s, GOAL)}`,
        offer(r),
        `${r.offerRuns.filter((x) => x >= GOAL).length} of ${r.offerRuns.length} runs`,
        `${(r.offerGroupsPerCpuSec / 1e6).toFixed(2)}M groups/s`,
      ],
    };
  },
  structures: (d: { rows: Row[]; dedupeAddsPerSec: { UidSet: number; Set: number } }) => {
    const [f100k, t100k, f1m, t1m] = [row(d.rows, "fenwick", 1e5), row(d.rows, "treap", 1e5), row(d.rows, "fenwick", 1e6), row(d.rows, "treap", 1e6)];
    const nsPerGroup = (rate: number) => Math.round(1e9 / rate / 10) * 10;
    const uids = (rate: number) => `${(rate / 1e6).toFixed(2)}M uids/s`;
    return {
      quotes: [
        `${times(f100k.windowOnlyGroupsPerCpuSec / t100k.windowOnlyGroupsPerCpuSec, 1)} the treap at W = 100k`,
        `(${(f100k.windowOnlyGroupsPerCpuSec / 1e6).toFixed(2)} vs ${millionsPerS(t100k.windowOnlyGroupsPerCpuSec)})`,
        `${times(f1m.windowOnlyGroupsPerCpuSec / t1m.windowOnlyGroupsPerCpuSec, 1)} at 1M`,
        `the window is ~${nsPerGroup(f100k.windowOnlyGroupsPerCpuSec)} ns of the ~${Math.round(nsPerGroup(f100k.offerGroupsPerCpuSec) / 100) * 100} ns per group`,
        `added ${uids(d.dedupeAddsPerSec.UidSet)}`,
        `managed ${uids(d.dedupeAddsPerSec.Set)}`,
        `a window of 1M survivor lengths from empty took ${row(d.rows, "fenwick", 1e6).fillSeconds.toFixed(1)} s`,
      ],
    };
  },
};
