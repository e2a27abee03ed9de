// The parameters of an algorithm: every field a preset sets and a user may override. Snake case because
// these are the user-facing keys (`--set clip_high=0.28`, run configs, swap events).

export interface AlgorithmParams {
  /** Advantage estimator (registry name): `group_std` (GRPO/DAPO/GSPO) or `group_mean` (Dr. GRPO). */
  advantage: string;
  /** Policy loss (registry name): `ppo_clip` (per-token ratio) or `gspo` (sequence ratio, token form). */
  policy_loss: string;
  /** eps_low: the ratio is clipped below at 1 - clip_low. */
  clip_low: number;
  /** eps_high: the ratio is clipped above at 1 + clip_high (DAPO's clip-higher when > clip_low). */
  clip_high: number;
  /** Dual clip c for A < 0 (l_t = min(l_t, -A*c)); null disables. Must be > 1. */
  dual_clip: number | null;
  /** beta: weight of the per-token KL to the reference policy; 0 turns KL off (no logp_ref needed). */
  kl_coef: number;
  /** KL estimator (registry name): `k1` or `k3`. */
  kl_estimator: string;
  /** Entropy bonus weight: l_t -= entropy_coef * H_t; 0 turns it off (no entropy input needed). */
  entropy_coef: number;
  /** Aggregation mode (registry name): `token-mean`, `seq-mean-token-mean`, `seq-mean-token-sum-norm`. */
  loss_agg: string;
  /** C for `seq-mean-token-sum-norm`; null means `max_response_length` (a constant, never the batch max). */
  token_sum_norm: number | null;
  /** The rollout's configured max response length in tokens (L_max for overlong shaping, default C). */
  max_response_length: number;
  /** DAPO overlong reward shaping on/off. */
  overlong_shaping: boolean;
  /** L_cache: the soft-penalty buffer below max_response_length. */
  overlong_buffer: number;
  /** Scale of the overlong penalty (1 in DAPO). */
  overlong_penalty_factor: number;
  /** Overlong filtering: mask responses flagged `truncated` out of the loss. */
  overlong_filter: boolean;
  /**
   * Bound c on a log-ratio before it is exponentiated: logp - logp_old per token (PPO clip, approx_kl) and
   * GSPO's sequence mean are clamped to [-c, c], with no gradient outside (verl clamps at 20 too). exp(20)
   * is about 4.9e8: far past any clip range, yet far from float32's overflow at about 88. null = no clamp.
   */
  log_ratio_clamp: number | null;
}

/** The per-field one-line docs, in declaration order (for `--help` and error messages). */
export const PARAM_DOCS: Record<keyof AlgorithmParams, string> = {
  advantage: "advantage estimator",
  policy_loss: "policy loss",
  clip_low: "eps_low, ratio clipped below at 1 - clip_low",
  clip_high: "eps_high, ratio clipped above at 1 + clip_high",
  dual_clip: "dual clip c for A < 0, or null",
  kl_coef: "beta for KL to the reference policy (0 = off)",
  kl_estimator: "KL estimator",
  entropy_coef: "entropy bonus weight (0 = off)",
  loss_agg: "loss aggregation mode",
  token_sum_norm: "C for seq-mean-token-sum-norm, or null = max_response_length",
  max_response_length: "rollout max response length in tokens",
  overlong_shaping: "DAPO overlong reward shaping",
  overlong_buffer: "overlong soft-penalty buffer L_cache in tokens",
  overlong_penalty_factor: "overlong penalty scale",
  overlong_filter: "mask truncated responses out of the loss",
  log_ratio_clamp: "log-ratios (per token; GSPO's sequence mean) clamped to +-this before exp, or null",
};

export const PARAM_NAMES = Object.keys(PARAM_DOCS) as (keyof AlgorithmParams)[];

/** C actually used by `seq-mean-token-sum-norm`. */
export function normConstant(p: AlgorithmParams): number {
  return p.token_sum_norm ?? p.max_response_length;
}
