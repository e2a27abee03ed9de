// The log-ratio clamp (params.log_ratio_clamp): a log-ratio is bounded to [-c, c] before exp, so a token
// whose old log-prob is far below its new one gives a large finite ratio instead of +Infinity (then NaN
// when A = 0, or an infinite loss for GSPO with A < 0). Outside the band the clamp passes no gradient,
// as the graph's Clip does (its rule keeps the gradient where -c <= x <= c, bounds included).
import { type FloatDType, ops, type Value } from "@lspo/model";
import type { AlgorithmParams } from "./params.js";

export interface ClampedLogRatio {
  value: number;
  /** d value / d x: 1 inside [-c, c] (bounds included), 0 outside. */
  slope: 0 | 1;
}

export function clampLogRatio(x: number, p: AlgorithmParams): ClampedLogRatio {
  const c = p.log_ratio_clamp;
  if (c === null || (x >= -c && x <= c)) return { value: x, slope: 1 };
  return { value: x < -c ? -c : c, slope: 0 };
}

export function graphClampLogRatio<D extends FloatDType>(x: Value<D>, p: AlgorithmParams): Value<D> {
  const c = p.log_ratio_clamp;
  return c === null ? x : ops.clip(x, -c, c);
}
