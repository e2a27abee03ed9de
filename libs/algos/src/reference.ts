// The plain-TS float64 reference of the full loss: policy term + beta*KL - entropy_coef*H per token,
// aggregated over the mini-batch, with d loss / d logp per token worked out analytically. Tests hold the
// graph form to this, and this to hand-worked values and finite differences.
import { aggregations } from "./aggregation.js";
import { klEstimators } from "./kl.js";
import { clampLogRatio } from "./log-ratio.js";
import type { LossInput } from "./loss-input.js";
import { type AlgorithmParams, normConstant } from "./params.js";
import { type ClipSide, policyLosses } from "./policy-losses.js";
import { NonFiniteLossError } from "./errors.js";

/** Per-update statistics, all over the unmasked tokens / responses of the mini-batch. */
export interface UpdateMetrics {
  /** Fraction of tokens whose ratio was clipped below (A < 0, ratio < 1 - clip_low): zero gradient. */
  clip_frac_low: number;
  /** Fraction of tokens clipped above (A > 0, ratio > 1 + clip_high): zero gradient. */
  clip_frac_high: number;
  /** Fraction of tokens capped by the dual clip (A < 0, loss > -A*c): zero gradient. */
  clip_frac_dual: number;
  /** Approximate KL(pi_old || pi_theta), token mean of k3 on r = exp(logp - logp_old): r - 1 - log r. */
  approx_kl: number;
  /** Token mean of the configured KL estimator to the reference policy; null when KL is off. */
  ref_kl: number | null;
  /** Mean |A_i| over responses that have tokens in the loss. */
  mean_abs_advantage: number;
  /** Token mean of the policy entropy; null when no entropy was given. */
  entropy: number | null;
  /** Unmasked tokens in the mini-batch: the weight of every token mean when micro-batches are combined. */
  tokens: number;
  /** Responses with tokens in the loss: the weight of mean_abs_advantage when micro-batches are combined. */
  responses: number;
}

export interface ReferenceResult {
  loss: number;
  /** [N][T_i] d loss / d logp_t. */
  gradLogp: number[][];
  /** [N][T_i] d loss / d H_t (= -entropy_coef * w_t); null when entropy is not an input. */
  gradEntropy: number[][] | null;
  metrics: UpdateMetrics;
}

export function referenceLoss(p: AlgorithmParams, x: LossInput): ReferenceResult {
  const policy = policyLosses.get(p.policy_loss);
  const kl = klEstimators.get(p.kl_estimator);
  const weights = aggregations.get(p.loss_agg).weights(x.mask, normConstant(p)); // [N][T_i]
  const useKl = p.kl_coef > 0;
  if (useKl && x.logpRef === null) throw new Error("referenceLoss: kl_coef > 0 needs logpRef");
  if (p.entropy_coef > 0 && x.entropy === null) throw new Error("referenceLoss: entropy_coef > 0 needs entropy");

  let loss = 0;
  const counts: Record<ClipSide, number> = { none: 0, low: 0, high: 0, dual: 0 };
  let tokens = 0;
  let approxKl = 0;
  let refKl = 0;
  let entropySum = 0;
  let absAdv = 0;
  let liveSeqs = 0;

  const gradLogp = x.logp.map((logp, i) => {
    const mask = x.mask[i];
    const terms = policy.reference({ logp, logpOld: x.logpOld[i], mask, advantage: x.advantages[i] }, p);
    const seqTokens = mask.reduce((s, m) => s + m, 0);
    if (seqTokens > 0) {
      absAdv += Math.abs(x.advantages[i]);
      liveSeqs++;
    }
    return logp.map((lp, t) => {
      const w = weights[i][t];
      let l = terms.loss[t];
      let d = terms.dLogp[t];
      if (useKl) {
        const ref = x.logpRef![i][t];
        l += p.kl_coef * kl.value(lp, ref);
        d += p.kl_coef * kl.dLogp(lp, ref);
        refKl += mask[t] * kl.value(lp, ref);
      }
      if (x.entropy !== null) {
        l -= p.entropy_coef * x.entropy[i][t];
        entropySum += mask[t] * x.entropy[i][t];
      }
      // A NaN or infinity would silently become the update (or a NaN loss with no clue where): name it.
      if (!Number.isFinite(w * l)) throw new NonFiniteLossError(`responses[${i}]`, t, "loss", w * l);
      if (!Number.isFinite(w * d)) throw new NonFiniteLossError(`responses[${i}]`, t, "gradient", w * d);
      loss += w * l;
      if (mask[t] > 0) counts[terms.clip[t]]++;
      tokens += mask[t];
      const logR = clampLogRatio(lp - x.logpOld[i][t], p).value;
      approxKl += mask[t] * (Math.exp(logR) - 1 - logR);
      return w * d + 0; // + 0 turns -0 (masked token, negative slope) into 0
    });
  });

  const gradEntropy = x.entropy === null ? null : weights.map((row) => row.map((w) => -p.entropy_coef * w + 0));
  const perToken = (v: number) => (tokens > 0 ? v / tokens : 0);
  return {
    loss,
    gradLogp,
    gradEntropy,
    metrics: {
      clip_frac_low: perToken(counts.low),
      clip_frac_high: perToken(counts.high),
      clip_frac_dual: perToken(counts.dual),
      approx_kl: perToken(approxKl),
      ref_kl: useKl ? perToken(refKl) : null,
      mean_abs_advantage: liveSeqs > 0 ? absAdv / liveSeqs : 0,
      entropy: x.entropy === null ? null : perToken(entropySum),
      tokens,
      responses: liveSeqs,
    },
  };
}
