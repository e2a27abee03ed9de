// What the learner does with the rollout's log-probs once it has its own old log-probs (recomputed with the
// weights it holds before the first mini-batch): measure the mismatch on rows sampled by those very weights,
// and, when asked, weight each token's loss by a truncated importance ratio (verl's TIS).
import type { TrainingRows } from "./batch-tensors.js";

export interface LogpDiff {
  /** max |logp_rollout - logp_old| over the response tokens of same-version rows. */
  max: number;
  mean: number;
  tokens: number;
}

/**
 * |rollout log-prob - learner old log-prob| over the response tokens of the rows in `sameVersion` (rows whose
 * group was sampled by the policy version the learner holds: only there should the two agree, up to
 * numerics). null when no row qualifies.
 */
export function rolloutLogpDiff(rows: TrainingRows, rollout: Float32Array, old: Float32Array, sameVersion: readonly boolean[]): LogpDiff | null {
  const T = rows.batch.inputIds.shape[1];
  let max = 0;
  let sum = 0;
  let tokens = 0;
  rows.spans.forEach((s, b) => {
    if (!sameVersion[b]) return;
    for (let i = 0; i < s.length; i++) {
      const d = Math.abs(rollout[b * T + s.start + i] - old[b * T + s.start + i]);
      max = Math.max(max, d);
      sum += d;
      tokens++;
    }
  });
  return tokens > 0 ? { max, mean: sum / tokens, tokens } : null;
}

export interface TisWeights {
  /** [B, T] min(exp(logp_old - logp_rollout), cap) on response tokens, 1 elsewhere. */
  factor: Float32Array;
  /** Mean weight and fraction of tokens held at the cap, over the response tokens in the loss. */
  mean: number;
  capped: number;
}

/**
 * Truncated importance sampling (verl's TIS): w_t = min(exp(logp_old_t - logp_rollout_t), C). It multiplies
 * each token's loss (so its gradient too) and corrects for the rollout's distribution differing from the
 * old policy's (an older version in pipelined mode, or other numerics).
 */
export function tisWeights(rows: TrainingRows, rollout: Float32Array, old: Float32Array, cap: number): TisWeights {
  const T = rows.batch.inputIds.shape[1];
  const factor = new Float32Array(rows.batch.inputIds.shape[0] * T).fill(1);
  let sum = 0;
  let capped = 0;
  let tokens = 0;
  rows.spans.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      const pos = b * T + s.start + i;
      const w = Math.min(Math.exp(old[pos] - rollout[pos]), cap);
      factor[pos] = w;
      if (rows.masks[b][i] === 0) continue;
      sum += w;
      if (w >= cap) capped++;
      tokens++;
    }
  });
  return { factor, mean: tokens > 0 ? sum / tokens : 1, capped: tokens > 0 ? capped / tokens : 0 };
}
