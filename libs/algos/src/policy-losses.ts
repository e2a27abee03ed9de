// Policy losses, reference form (float64, analytic gradient). Each takes one response's slice of the
// shared LossInput and returns per-token loss terms and d term / d logp_t; aggregation, KL and entropy
// are shared and applied outside (reference.ts), so a new loss is one registered entry.
import { type FloatDType, ops } from "@lspo/model";
import { graphClippedSurrogate } from "./graph-surrogate.js";
import { clampLogRatio, graphClampLogRatio } from "./log-ratio.js";
import type { GraphPolicyTerms, GraphSequenceInput } from "./graph-types.js";
import type { AlgorithmParams } from "./params.js";
import { Registry } from "./registry.js";

/** Why a token's policy gradient is zero: clipped below (A<0), above (A>0), or by the dual clip (A<0). */
export type ClipSide = "none" | "low" | "high" | "dual";

export interface SequenceSlice {
  logp: readonly number[]; // [T]
  logpOld: readonly number[]; // [T]
  mask: readonly number[]; // [T]
  advantage: number;
}

export interface SequenceTerms {
  loss: number[]; // [T] per-token policy loss (before aggregation)
  dLogp: number[]; // [T] d loss_t / d logp_t
  clip: ClipSide[]; // [T]
}

export interface PolicyLoss {
  summary: string;
  source: string;
  reference(seq: SequenceSlice, p: AlgorithmParams): SequenceTerms;
  /** The same loss as training-graph ops over the padded batch; must agree with `reference`. */
  graph<D extends FloatDType>(x: GraphSequenceInput<D>, p: AlgorithmParams): GraphPolicyTerms<D>;
}

export interface TokenTerm {
  loss: number;
  dLogp: number;
  clip: ClipSide;
}

/**
 * The clipped surrogate for one token, given the ratio value rho whose derivative w.r.t. logp_t is rho
 * itself (true for r_t = exp(logp_t - logp_old_t) and for GSPO's token form s_i * exp(logp_t - sg[logp_t])).
 *   l = max(-A*rho, -A*clip(rho, 1-eps_low, 1+eps_high))   (= -min(rho*A, clip(rho)*A))
 *   dual clip (A < 0): l = min(l, -A*c)
 * A branch that is a constant in logp contributes zero gradient. Ties go to the unclipped branch.
 */
export function clippedSurrogate(rho: number, a: number, p: AlgorithmParams): TokenTerm {
  const unclipped = -a * rho;
  const clipped = -a * Math.min(Math.max(rho, 1 - p.clip_low), 1 + p.clip_high);
  let t: TokenTerm =
    clipped > unclipped
      ? { loss: clipped, dLogp: 0, clip: a > 0 ? "high" : "low" }
      : { loss: unclipped, dLogp: -a * rho, clip: "none" };
  if (p.dual_clip !== null && a < 0 && t.loss > -a * p.dual_clip) {
    t = { loss: -a * p.dual_clip, dLogp: 0, clip: "dual" };
  }
  return t;
}

/** The surrogate on exp(clamped log-ratio): no gradient where the clamp holds the log-ratio at a bound. */
function surrogateOfLogRatio(logRatio: number, a: number, p: AlgorithmParams): TokenTerm {
  const c = clampLogRatio(logRatio, p);
  const t = clippedSurrogate(Math.exp(c.value), a, p);
  return c.slope === 1 ? t : { ...t, dLogp: 0 };
}

function collect(terms: TokenTerm[]): SequenceTerms {
  return { loss: terms.map((t) => t.loss), dLogp: terms.map((t) => t.dLogp), clip: terms.map((t) => t.clip) };
}

/** PPO-clip on the per-token ratio r_t = exp(logp_t - logp_old_t). GRPO, DAPO, Dr. GRPO. */
const ppoClip: PolicyLoss = {
  summary: "per-token ratio, clip(r, 1-clip_low, 1+clip_high), optional dual clip",
  source: "PPO arXiv 1707.06347; clip-higher DAPO arXiv 2503.14476; dual clip arXiv 1912.09729",
  reference(seq, p) {
    return collect(seq.logp.map((lp, t) => surrogateOfLogRatio(lp - seq.logpOld[t], seq.advantage, p)));
  },
  graph(x, p) {
    return graphClippedSurrogate(ops.exp(graphClampLogRatio(ops.sub(x.logp, x.logpOld), p)), x.advantages, p); // [N, T]
  },
};

/**
 * GSPO: s_i = exp(mean over the response's (unmasked) tokens of (logp - logp_old)). Token form
 * s_{i,t} = sg[s_i] * exp(logp_t - sg[logp_t]): same value s_i on every token, d s_{i,t}/d logp_t = s_i.
 * With a per-sequence-uniform aggregation weight this equals the gradient of the sequence loss
 * (d s_i / d logp_t = s_i / |o_i|), i.e. the sequence gradient is spread evenly over its tokens.
 */
const gspo: PolicyLoss = {
  summary: "sequence ratio exp(mean_t(logp - logp_old)), token form with stop-gradients",
  source: "GSPO, arXiv 2507.18071",
  reference(seq, p) {
    let sum = 0;
    let count = 0;
    seq.logp.forEach((lp, t) => {
      sum += seq.mask[t] * (lp - seq.logpOld[t]);
      count += seq.mask[t];
    });
    // No unmasked token: nothing to weigh, any value works (log-ratio 0, s = 1).
    const term = surrogateOfLogRatio(count > 0 ? sum / count : 0, seq.advantage, p);
    return collect(seq.logp.map(() => term));
  },
  /**
   * Per sequence: s [N, 1] built differentiably from all of its tokens, the surrogate on s, broadcast over
   * the tokens by the aggregation weights. The graph has no stop-gradient op, and none is needed: with a
   * weight w uniform over a sequence's unmasked tokens (every registered aggregation; tested), the
   * gradient W_i * l'(s_i) * s_i * m_t / |o_i| equals the token form's w * l'(s_i) * s_i.
   */
  graph(x, p) {
    const count = ops.reduceSum(x.mask, [1], true); // [N, 1] unmasked tokens
    const sum = ops.reduceSum(ops.mul(x.mask, ops.sub(x.logp, x.logpOld)), [1], true); // [N, 1]
    const s = ops.exp(graphClampLogRatio(ops.div(sum, ops.maximum(count, 1)), p)); // [N, 1]; an all-masked row gives s = 1
    return graphClippedSurrogate(s, x.advantages, p);
  },
};

export const policyLosses = new Registry<PolicyLoss>("policy loss");
policyLosses.register("ppo_clip", ppoClip);
policyLosses.register("gspo", gspo);
