// The clipped surrogate as graph ops, mirroring `clippedSurrogate` in policy-losses.ts branch for branch.
import { type FloatDType, ops, type Value } from "@lspo/model";
import type { GraphPolicyTerms } from "./graph-types.js";
import type { AlgorithmParams } from "./params.js";

/**
 * rho and a broadcast together ([N, T] with [N, 1], or [N, 1] with [N, 1]).
 *   l = max(-A*rho, -A*clip(rho, 1-eps_low, 1+eps_high)); dual clip (A < 0): l = min(l, -A*c).
 * Inside the clip range the two branches tie and autodiff's Max splits the gradient half and half, which
 * adds up to the unclipped branch's -A*rho; outside it the Clip passes no gradient.
 */
export function graphClippedSurrogate<D extends FloatDType>(rho: Value<D>, a: Value<D>, p: AlgorithmParams): GraphPolicyTerms<D> {
  const negA = ops.neg(a);
  const unclipped = ops.mul(negA, rho);
  const clipped = ops.mul(negA, ops.clip(rho, 1 - p.clip_low, 1 + p.clip_high));
  const clippedWins = ops.greater(clipped, unclipped);
  let loss = ops.maximum(unclipped, clipped);
  const negative = ops.less(a, 0);
  let dual = ops.less(a, a); // all false, shaped like a
  if (p.dual_clip !== null) {
    const cap = ops.mul(negA, p.dual_clip);
    dual = ops.and(negative, ops.greater(loss, cap));
    loss = ops.where(negative, ops.minimum(loss, cap), loss);
  }
  return {
    loss,
    low: ops.and(clippedWins, negative),
    high: ops.and(clippedWins, ops.greater(a, 0)),
    dual,
  };
}
