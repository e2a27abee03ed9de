// Loss aggregation modes (ALGORITHMS.md "Loss aggregation modes"). Each turns the response-token mask
// into per-token weights w so that loss = sum_t w_t * l_t; the gradient w.r.t. l_t is then just w_t.
// The weights depend only on the mask (never on logp), which is why the reference gradient is w * dl/dlogp.
// Contract for every mode: a sequence's unmasked tokens all get the same weight (GSPO's graph form relies on it).
import { type FloatDType, ops, type Value } from "@lspo/model";
import { type AlgorithmParams, normConstant } from "./params.js";
import { Registry } from "./registry.js";

export interface Aggregation {
  summary: string;
  source: string;
  /**
   * mask [N][T_i] (0/1) -> weights [N][T_i]. `normConstant` is C for `seq-mean-token-sum-norm`
   * (ignored by the others). An all-zero mask gives all-zero weights (loss 0), never NaN.
   */
  weights(mask: readonly (readonly number[])[], normConstant: number): number[][];
  /** The same as graph ops: mask [N, T] -> weights [N, T]. */
  graph<D extends FloatDType>(mask: Value<D>, normConstant: number): Value<D>;
}

function tokenCount(row: readonly number[]): number {
  let s = 0;
  for (const m of row) s += m;
  return s;
}

/** sum(m*l) / sum(m): every token in the mini-batch weighs the same. */
const tokenMean: Aggregation = {
  summary: "sum(m*l) / sum(m) over the mini-batch",
  source: "DAPO, arXiv 2503.14476 §3.3",
  weights(mask) {
    const total = mask.reduce((s, row) => s + tokenCount(row), 0);
    return mask.map((row) => row.map((m) => (total > 0 ? m / total : 0)));
  },
  graph(mask) {
    return ops.div(mask, ops.maximum(ops.sumAll(mask), 1)); // a total of 0 means mask 0 everywhere: 0 / 1
  },
};

/**
 * mean over sequences of (sum_t m*l / sum_t m). Sequences whose mask is all zero (e.g. removed by
 * overlong filtering) are not counted in the mean: they carry no tokens to average.
 */
const seqMeanTokenMean: Aggregation = {
  summary: "mean over sequences of the per-sequence token mean",
  source: "GRPO, arXiv 2402.03300 eq. 3",
  weights(mask) {
    const counts = mask.map(tokenCount);
    const live = counts.filter((c) => c > 0).length;
    return mask.map((row, i) => row.map((m) => (counts[i] > 0 ? m / (counts[i] * live) : 0)));
  },
  graph(mask) {
    const counts = ops.reduceSum(mask, [1], true); // [N, 1]
    const live = ops.sumAll(ops.cast(ops.greater(counts, 0), mask.dtype)); // []
    return ops.div(mask, ops.mul(ops.maximum(counts, 1), ops.maximum(live, 1))); // [N, T]
  },
};

/**
 * mean over sequences of sum_t m*l: each sequence's tokens summed, not averaged (longer responses weigh
 * more). As in seq-mean-token-mean, all-masked sequences are not counted in the mean.
 */
const seqMeanTokenSum: Aggregation = {
  summary: "mean over sequences of the per-sequence token sum",
  source: "verl loss_agg_mode 'seq-mean-token-sum' (ALGORITHMS.md, Loss aggregation modes)",
  weights(mask) {
    const live = mask.filter((row) => tokenCount(row) > 0).length;
    return mask.map((row) => row.map((m) => (live > 0 ? m / live : 0)));
  },
  graph(mask) {
    const counts = ops.reduceSum(mask, [1], true); // [N, 1]
    const live = ops.sumAll(ops.cast(ops.greater(counts, 0), mask.dtype)); // []
    return ops.div(mask, ops.maximum(live, 1)); // [N, T]
  },
};

/** sum(m*l) / C with a constant C: no per-length normalisation, so no length bias. */
const seqMeanTokenSumNorm: Aggregation = {
  summary: "sum(m*l) / C, C constant (default: max_response_length)",
  source: "Dr. GRPO, arXiv 2503.20783",
  weights(mask, normConstant) {
    return mask.map((row) => row.map((m) => m / normConstant));
  },
  graph(mask, normConstant) {
    return ops.div(mask, normConstant);
  },
};

export const aggregations = new Registry<Aggregation>("loss aggregation");
aggregations.register("token-mean", tokenMean);
aggregations.register("seq-mean-token-mean", seqMeanTokenMean);
aggregations.register("seq-mean-token-sum", seqMeanTokenSum);
aggregations.register("seq-mean-token-sum-norm", seqMeanTokenSumNorm);

/**
 * The weights `p`'s aggregation gives a whole mini-batch's mask [N][T_i]. A learner that splits the
 * mini-batch into micro-batches feeds each its rows of these (training input `loss_weight`), so the summed
 * micro-batch gradients equal the mini-batch gradient.
 */
export function aggregationWeights(p: AlgorithmParams, mask: readonly (readonly number[])[]): number[][] {
  return aggregations.get(p.loss_agg).weights(mask, normConstant(p));
}
