// Per-update metrics from the metrics of its parts (micro-batches, mini-batches, epochs). Each part reports
// means over its own tokens or responses; summing them (what a trainer that sums micro-batch outputs does)
// grows with the number of parts. Weighted by what each mean is over, the result is the mean over the whole
// update, the same for any micro-batch size.
import type { UpdateMetrics } from "./reference.js";

/** What each metric is a mean over: `tokens` and `responses` are counts and add up; the rest are means. */
const WEIGHT_OF: Record<string, "tokens" | "responses" | "count"> = {
  tokens: "count",
  responses: "count",
  mean_abs_advantage: "responses",
};

export class MetricCombineError extends Error {
  override readonly name = "MetricCombineError";
}

/**
 * Combines parts' metrics (UpdateMetrics as numbers; metrics absent from a part, e.g. a null ref_kl, are
 * skipped for it). Token means are weighted by `tokens`, mean_abs_advantage by `responses`; any other key
 * the loss adds is taken as a token mean. A part with no tokens weighs nothing.
 */
export function combineMetrics(parts: readonly Record<string, number>[]): Record<string, number> {
  const sums: Record<string, number> = {};
  const weights: Record<string, number> = {};
  for (const [i, m] of parts.entries()) {
    for (const need of ["tokens", "responses"] as const) {
      if (!(need in m)) throw new MetricCombineError(`part ${i} has no '${need}' metric: its means cannot be weighted (keys: ${Object.keys(m).join(", ")})`);
    }
    for (const [k, v] of Object.entries(m)) {
      const kind = WEIGHT_OF[k] ?? "tokens";
      const w = kind === "count" ? 1 : m[kind];
      sums[k] ??= 0;
      weights[k] ??= 0;
      if (w === 0) continue; // a mean over nothing (0 by convention) carries no information
      sums[k] += w * v;
      weights[k] += w;
    }
  }
  const out: Record<string, number> = {};
  for (const k of Object.keys(sums)) {
    const count = (WEIGHT_OF[k] ?? "tokens") === "count";
    out[k] = count ? sums[k] : weights[k] > 0 ? sums[k] / weights[k] : 0; // nothing to average: 0, as each part reports
  }
  return out;
}

/** The keys of UpdateMetrics, for callers that want to pick them out of a wider record. */
export const UPDATE_METRIC_KEYS = [
  "clip_frac_low", "clip_frac_high", "clip_frac_dual", "approx_kl", "ref_kl", "mean_abs_advantage", "entropy", "tokens", "responses",
] as const satisfies readonly (keyof UpdateMetrics)[];
