// DAPO's overlong handling (arXiv 2503.14476 §3.4): a soft length penalty added to the reward, and the
// alternative "overlong filtering" that masks truncated responses out of the loss.

export interface OverlongShaping {
  /** L_max: the rollout's max response length in tokens. */
  maxLength: number;
  /** L_cache: the soft-penalty buffer just below L_max. */
  buffer: number;
  /** Scales the penalty (1 in the paper; verl's `overlong_penalty_factor`). */
  factor: number;
}

/**
 * Penalty for a response of `length` tokens:
 * 0 if length <= L_max - L_cache; ((L_max - L_cache) - length) / L_cache inside the buffer; -1 beyond L_max.
 * Multiplied by `factor`. Added to the verifier's reward before advantages are computed.
 */
export function overlongPenalty(length: number, s: OverlongShaping): number {
  const expected = s.maxLength - s.buffer;
  if (length <= expected) return 0;
  if (length <= s.maxLength) return (s.factor * (expected - length)) / s.buffer;
  return -s.factor;
}

/**
 * Overlong filtering: a truncated response's tokens are masked out of the loss (mask 0), so the model is
 * not punished for reasoning cut off by the length limit. Its reward still counts in the group's
 * advantage statistics: filtering changes what is trained on, not the baseline.
 */
export function overlongKeep(truncated: boolean, filter: boolean): boolean {
  return !(filter && truncated);
}
