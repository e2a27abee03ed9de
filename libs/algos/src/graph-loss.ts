// The graph form of the full loss: what the learner's training graph computes and differentiates. Same
// structure as reference.ts (policy term + beta*KL - entropy_coef*H per token, aggregated by weights), built
// from the registry entries' graph forms, so the learner never branches on the algorithm's name.
import { type FloatDType, ops, type Value } from "@lspo/model";
import { aggregations } from "./aggregation.js";
import type { GraphLossInput } from "./graph-types.js";
import { klEstimators } from "./kl.js";
import { graphClampLogRatio } from "./log-ratio.js";
import { type AlgorithmParams, normConstant } from "./params.js";
import { policyLosses } from "./policy-losses.js";
import type { UpdateMetrics } from "./reference.js";

/** Graph values of the metrics (shape []); `ref_kl` / `entropy` only where computed. */
export type GraphMetrics<D extends FloatDType> = {
  [K in Exclude<keyof UpdateMetrics, "ref_kl" | "entropy">]: Value<D>;
} & { ref_kl: Value<D> | null; entropy: Value<D> | null };

export interface GraphLoss<D extends FloatDType> {
  /** [] the scalar to differentiate. */
  loss: Value<D>;
  metrics: GraphMetrics<D>;
}

/** A loss builder for a training graph: the learner passes its padded tensors, gets the scalar loss back. */
export type GraphLossBuilder = <D extends FloatDType>(x: GraphLossInput<D>) => GraphLoss<D>;

export function buildGraphLoss<D extends FloatDType>(p: AlgorithmParams, x: GraphLossInput<D>): GraphLoss<D> {
  if (p.kl_coef > 0 && x.logpRef === null) throw new Error("buildGraphLoss: kl_coef > 0 needs logpRef");
  if (p.entropy_coef > 0 && x.entropy === null) throw new Error("buildGraphLoss: entropy_coef > 0 needs entropy");
  const a = ops.unsqueeze(x.advantages, [1]); // [N, 1]
  const terms = policyLosses.get(p.policy_loss).graph({ logp: x.logp, logpOld: x.logpOld, mask: x.mask, advantages: a }, p);
  let perToken: Value<D> = terms.loss; // [N, T] or [N, 1]
  let refKl: Value<D> | null = null;
  if (p.kl_coef > 0) {
    const kl = klEstimators.get(p.kl_estimator).graph(x.logp, x.logpRef!); // [N, T]
    perToken = ops.add(perToken, ops.mul(kl, p.kl_coef));
    refKl = kl;
  }
  if (x.entropy !== null && p.entropy_coef > 0) perToken = ops.sub(perToken, ops.mul(x.entropy, p.entropy_coef));
  const w = x.weights ?? aggregations.get(p.loss_agg).graph(x.mask, normConstant(p)); // [N, T]
  const loss = ops.sumAll(ops.mul(w, perToken)); // []
  return { loss, metrics: graphMetrics(x, a, terms, refKl, p) };
}

/** `p` bound: the builder a learner hands to libs/model's training graph. */
export function graphLossBuilder(p: AlgorithmParams): GraphLossBuilder {
  return (x) => buildGraphLoss(p, x);
}

function graphMetrics<D extends FloatDType>(
  x: GraphLossInput<D>,
  a: Value<D>,
  terms: { low: Value<"bool">; high: Value<"bool">; dual: Value<"bool"> },
  refKl: Value<D> | null,
  p: AlgorithmParams,
): GraphMetrics<D> {
  const dt = x.mask.dtype;
  const tokens = ops.sumAll(x.mask); // []
  const tokenMean = (v: Value<D>) => ops.div(ops.sumAll(ops.mul(x.mask, v)), ops.maximum(tokens, 1));
  const frac = (b: Value<"bool">) => tokenMean(ops.cast(b, dt) as Value<D>);
  const logR = graphClampLogRatio(ops.sub(x.logp, x.logpOld), p); // [N, T]
  const k3 = ops.sub(ops.sub(ops.exp(logR), 1), logR); // r - 1 - log r
  const live = ops.cast(ops.greater(ops.reduceSum(x.mask, [1], true), 0), dt) as Value<D>; // [N, 1]
  const absA = ops.maximum(a, ops.neg(a)); // [N, 1]
  return {
    clip_frac_low: frac(terms.low),
    clip_frac_high: frac(terms.high),
    clip_frac_dual: frac(terms.dual),
    approx_kl: tokenMean(k3),
    ref_kl: refKl && tokenMean(refKl),
    mean_abs_advantage: ops.div(ops.sumAll(ops.mul(live, absA)), ops.maximum(ops.sumAll(live), 1)),
    entropy: x.entropy && tokenMean(x.entropy),
    tokens,
    responses: ops.sumAll(live),
  };
}
