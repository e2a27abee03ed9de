// The algorithms as data: each preset is a complete parameter set with its published defaults. A user
// picks one by name and overrides any field (spec.ts validates the result). Sources per preset below and
// in README.md.
import type { AlgorithmParams } from "./params.js";
import { Registry } from "./registry.js";

export interface Preset {
  summary: string;
  source: string;
  params: Readonly<AlgorithmParams>;
}

/**
 * Fields no preset's paper sets differently; shared so a swap does not move them unless asked.
 * max_response_length / overlong_buffer are DAPO's published 20480 / 4096 tokens (arXiv 2503.14476 §4.1,
 * 16384 expected + 4096 soft-punish buffer): set max_response_length to the rollout's max tokens
 * (e.g. 2048 for the LSPO Qwen setting) — it is L_max for overlong shaping and C for Dr. GRPO.
 */
const COMMON = {
  kl_estimator: "k3",
  entropy_coef: 0,
  token_sum_norm: null,
  max_response_length: 20480,
  overlong_shaping: false,
  overlong_buffer: 4096,
  overlong_penalty_factor: 1,
  overlong_filter: false,
  log_ratio_clamp: 20,
} as const satisfies Partial<AlgorithmParams>;

const grpo: Preset = {
  summary: "GRPO: group-std advantage, PPO clip 0.2, k3 KL beta 0.04, seq-mean-token-mean",
  source: "DeepSeekMath arXiv 2402.03300 (eps 0.2, beta 0.04, k3); dual clip c=3 as in verl",
  params: {
    ...COMMON,
    advantage: "group_std",
    policy_loss: "ppo_clip",
    clip_low: 0.2,
    clip_high: 0.2,
    dual_clip: 3,
    kl_coef: 0.04,
    loss_agg: "seq-mean-token-mean",
  },
};

const dapo: Preset = {
  summary: "DAPO: clip-higher 0.2/0.28, token-mean, no KL, overlong reward shaping",
  source: "DAPO arXiv 2503.14476 (clip 0.2/0.28, token-level loss, no KL, L_max 20480 / L_cache 4096)",
  params: {
    ...COMMON,
    advantage: "group_std",
    policy_loss: "ppo_clip",
    clip_low: 0.2,
    clip_high: 0.28,
    dual_clip: 3,
    kl_coef: 0,
    loss_agg: "token-mean",
    overlong_shaping: true,
  },
};

const gspo: Preset = {
  summary: "GSPO: sequence-level ratio, clip 3e-4/4e-4, no KL, mean over sequences",
  source: "GSPO arXiv 2507.18071 (eps_low 3e-4, eps_high 4e-4, no KL)",
  params: {
    ...COMMON,
    advantage: "group_std",
    policy_loss: "gspo",
    clip_low: 3e-4,
    clip_high: 4e-4,
    dual_clip: null,
    kl_coef: 0,
    loss_agg: "seq-mean-token-mean",
  },
};

const drGrpo: Preset = {
  summary: "Dr. GRPO: mean-only advantage, seq-mean-token-sum-norm, no KL",
  source: "Dr. GRPO arXiv 2503.20783 (no std division, no 1/|o| normalisation, no KL term)",
  params: {
    ...COMMON,
    advantage: "group_mean",
    policy_loss: "ppo_clip",
    clip_low: 0.2,
    clip_high: 0.2,
    dual_clip: 3,
    kl_coef: 0,
    loss_agg: "seq-mean-token-sum-norm",
  },
};

export const presets = new Registry<Preset>("algorithm");
presets.register("grpo", grpo);
presets.register("dapo", dapo);
presets.register("gspo", gspo);
presets.register("dr_grpo", drGrpo);
