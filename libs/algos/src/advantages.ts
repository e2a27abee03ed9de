// Group advantage estimators (ALGORITHMS.md "Group advantage"). One scalar per response, broadcast to
// all of its tokens by the loss. Every estimator takes the same input: one group's rewards [G].
import { Registry } from "./registry.js";

/** Added to the std so an all-equal group divides 0 by a small number instead of 0 by 0. */
export const ADVANTAGE_STD_EPS = 1e-6;

export interface AdvantageEstimator {
  /** One line for docs and `--help`. */
  summary: string;
  /** Paper or implementation the formula comes from. */
  source: string;
  /** rewards [G] -> advantages [G]. A group of size 1 has no baseline: advantage 0. */
  compute(rewards: readonly number[]): number[];
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Unbiased (N-1) standard deviation, as in the common GRPO implementation. Needs xs.length >= 2. */
export function unbiasedStd(xs: readonly number[]): number {
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/** A_i = (R_i - mean(R)) / (std(R) + 1e-6). GRPO, DAPO, GSPO. */
const groupStd: AdvantageEstimator = {
  summary: "(R - mean) / (unbiased std + 1e-6) within the group",
  source: "GRPO, arXiv 2402.03300 (std: unbiased N-1 as in verl)",
  compute(rewards) {
    if (rewards.length < 2) return rewards.map(() => 0);
    const m = mean(rewards);
    const sd = unbiasedStd(rewards);
    return rewards.map((r) => (r - m) / (sd + ADVANTAGE_STD_EPS));
  },
};

/** A_i = R_i - mean(R). Dr. GRPO drops the std division (it up-weights too easy / too hard prompts). */
const groupMean: AdvantageEstimator = {
  summary: "R - mean within the group (no std division)",
  source: "Dr. GRPO, arXiv 2503.20783",
  compute(rewards) {
    if (rewards.length < 2) return rewards.map(() => 0);
    const m = mean(rewards);
    return rewards.map((r) => r - m);
  },
};

export const advantageEstimators = new Registry<AdvantageEstimator>("advantage estimator");
advantageEstimators.register("group_std", groupStd);
advantageEstimators.register("group_mean", groupMean);
