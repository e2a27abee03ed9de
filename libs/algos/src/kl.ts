// Per-token estimators of KL(pi_theta || pi_ref) from samples of pi_theta (Schulman, "Approximating KL
// Divergence", 2020). Each gives the value and its derivative w.r.t. the current token log-prob.
import { type FloatDType, ops, type Value } from "@lspo/model";
import { Registry } from "./registry.js";

export interface KlEstimator {
  summary: string;
  source: string;
  /** KL_t from logp_t (current policy) and ref_t (frozen reference policy). */
  value(logp: number, ref: number): number;
  /** d KL_t / d logp_t (ref is a constant). */
  dLogp(logp: number, ref: number): number;
  /** The same as graph ops, elementwise over [N, T]. */
  graph<D extends FloatDType>(logp: Value<D>, ref: Value<D>): Value<D>;
}

/** k1 = logp - ref: unbiased, high variance, can be negative per token. */
const k1: KlEstimator = {
  summary: "logp - logp_ref",
  source: "Schulman 2020 (k1)",
  value: (logp, ref) => logp - ref,
  dLogp: () => 1,
  graph: (logp, ref) => ops.sub(logp, ref),
};

/** k3 = exp(ref - logp) - (ref - logp) - 1: unbiased, non-negative, low variance. GRPO's choice. */
const k3: KlEstimator = {
  summary: "exp(ref - logp) - (ref - logp) - 1",
  source: "Schulman 2020 (k3); GRPO, arXiv 2402.03300 eq. 4",
  value: (logp, ref) => Math.exp(ref - logp) - (ref - logp) - 1,
  // d/dlogp [e^x - x - 1] with x = ref - logp, dx/dlogp = -1: -e^x + 1.
  dLogp: (logp, ref) => 1 - Math.exp(ref - logp),
  graph(logp, ref) {
    const x = ops.sub(ref, logp);
    return ops.sub(ops.sub(ops.exp(x), x), 1);
  },
};

export const klEstimators = new Registry<KlEstimator>("KL estimator");
klEstimators.register("k1", k1);
klEstimators.register("k3", k3);
