// The adapter from a spec to libs/model's training graph: a loss-builder callback that declares the extra
// inputs the learner feeds with each mini-batch and builds the loss from the model's own log-probs (and
// entropy). Typed structurally against the callback's context, so it depends only on what it uses.
import type { Dim, FloatDType, Value } from "@lspo/model";
import { buildGraphLoss } from "./graph-loss.js";
import type { GraphLossInput } from "./graph-types.js";
import type { AlgorithmParams } from "./params.js";

/** The part of libs/model's LossContext the loss uses. */
export interface TrainingLossContext<D extends FloatDType> {
  /** [B, T] log p(target) at each position under the current parameters. */
  logprobs: Value<D>;
  /** Declares an extra graph input fed with each batch. */
  input<E extends "float32" | "float64" | "int64" | "int32" | "bool">(name: string, dtype: E, shape: readonly Dim[]): Value<E>;
  /** [B, T] entropy of the predictive distribution at each position. */
  entropy(): Value<D>;
  dims: { B: Dim; T: Dim };
}

/**
 * Names of the inputs the learner feeds, all aligned with the model's `logprobs` positions (position t
 * holds the token that position t predicts). Every [B, T] input must be finite at masked positions (0).
 */
export const TRAINING_INPUTS = {
  /** [B, T] behaviour-policy log-probs. */
  logpOld: "logp_old",
  /** [B, T] reference-policy log-probs; declared only when kl_coef > 0. */
  logpRef: "logp_ref",
  /** [B, T] 1 on response tokens in the loss, 0 on prompt, padding and overlong-filtered responses. */
  lossMask: "loss_mask",
  /** [B] advantage of each response. */
  advantages: "advantages",
  /**
   * [B, T] aggregation weights from `aggregationWeights(params, mask)` over the whole mini-batch, sliced to
   * this micro-batch's rows (0 where loss_mask is 0): libs/model sums micro-batch gradients.
   */
  lossWeight: "loss_weight",
} as const;

export interface TrainingLossOptions {
  /** Compute the entropy (a pass over the vocabulary) for the metric even when entropy_coef = 0. */
  entropyMetric?: boolean;
}

/**
 * The loss builder for `p`. Metrics are per micro-batch; combine token means across micro-batches
 * weighting by `tokens`. A swap changes the graph (clip bounds, coefficients and the loss's ops are
 * built in), so a learner builds one training graph per active spec, at the update boundary.
 */
export function trainingLossBuilder(p: AlgorithmParams, o: TrainingLossOptions = {}) {
  return <D extends FloatDType>(ctx: TrainingLossContext<D>): { loss: Value<D>; metrics: Record<string, Value<D>> } => {
    const dt = ctx.logprobs.dtype as D;
    const bt = [ctx.dims.B, ctx.dims.T];
    const x: GraphLossInput<D> = {
      logp: ctx.logprobs,
      logpOld: ctx.input(TRAINING_INPUTS.logpOld, dt, bt) as Value<D>,
      logpRef: p.kl_coef > 0 ? (ctx.input(TRAINING_INPUTS.logpRef, dt, bt) as Value<D>) : null,
      entropy: p.entropy_coef > 0 || o.entropyMetric ? ctx.entropy() : null,
      mask: ctx.input(TRAINING_INPUTS.lossMask, dt, bt) as Value<D>,
      advantages: ctx.input(TRAINING_INPUTS.advantages, dt, [ctx.dims.B]) as Value<D>,
      weights: ctx.input(TRAINING_INPUTS.lossWeight, dt, bt) as Value<D>,
    };
    const { loss, metrics } = buildGraphLoss(p, x);
    const present: Record<string, Value<D>> = {};
    for (const [k, v] of Object.entries(metrics)) if (v !== null) present[k] = v;
    return { loss, metrics: present };
  };
}
