// Shared by the benchmarks: repeated measurements summarised as median (min–max), and the machine a
// result was measured on (recorded in every bench/results/<name>.json).
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

/** Median (the middle run; the mean of the two middle runs for an even count), min and max of `xs`. */
export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) throw new Error("summarize: no measurements");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], runs: [...xs] };
}

/** "12.3 (11.9–12.8)" with `digits` decimals. */
export function fmt(s: Summary, digits = 2): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/**
 * A goal judged on the wall-clock median with its spread (docs/BENCHMARKS.md, "The rule"): "met" when every
 * run reaches it, "not met" when the median does not, and "not settled" when the median reaches it but some
 * runs do not, since then the median alone would claim more than the runs show. `higherIsBetter: false` for
 * goals that are ceilings.
 */
export function judgeGoal(s: Pick<Summary, "median" | "min" | "max"> & { runs?: number[] }, goal: number, higherIsBetter = true): string {
  const misses = (x: number) => (higherIsBetter ? x < goal : x > goal);
  if (misses(s.median)) return "not met";
  if (!misses(higherIsBetter ? s.min : s.max)) return "met";
  return s.runs ? `not settled (${s.runs.filter(misses).length} of ${s.runs.length} runs miss it)` : "not settled (some runs miss it)";
}

function version(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: "utf8" }).trim();
  } catch {
    return "unavailable";
  }
}

export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: version("nats-server", ["--version"]),
  };
}

/** Seconds elapsed since `t0` (from process.hrtime.bigint()). */
export const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
