// The graph form's shared input: the same quantities as LossInput, as padded [N, T] tensors of a
// libs/model training graph. Padding positions carry mask 0 and must hold finite values (0 is fine).
import type { FloatDType, Value } from "@lspo/model";

export interface GraphLossInput<D extends FloatDType = FloatDType> {
  /** [N, T] current policy log-prob of each response token: the value the loss is differentiated through. */
  logp: Value<D>;
  /** [N, T] behaviour-policy log-probs (a graph input). */
  logpOld: Value<D>;
  /** [N, T] reference-policy log-probs; null when kl_coef = 0. */
  logpRef: Value<D> | null;
  /** [N, T] per-position policy entropy (from the model's logits); null unless entropy is computed. */
  entropy: Value<D> | null;
  /** [N, T] 1 = token in the loss, 0 = padding or masked (overlong filtering). */
  mask: Value<D>;
  /** [N] advantage of each response. */
  advantages: Value<D>;
  /**
   * [N, T] aggregation weights computed on the host over the WHOLE mini-batch (`aggregationWeights`), for
   * a graph that sees one micro-batch of it: micro-batch losses and gradients then sum to the mini-batch's.
   * Omitted or null: built in the graph from `mask`, i.e. the graph's batch is the whole mini-batch.
   */
  weights?: Value<D> | null;
}

/** One policy loss's per-token terms; [N, 1] where a term is per sequence (GSPO), else [N, T]. */
export interface GraphPolicyTerms<D extends FloatDType = FloatDType> {
  loss: Value<D>;
  /** Where the lower clip / upper clip / dual clip zeroed the gradient. */
  low: Value<"bool">;
  high: Value<"bool">;
  dual: Value<"bool">;
}

export interface GraphSequenceInput<D extends FloatDType = FloatDType> {
  logp: Value<D>; // [N, T]
  logpOld: Value<D>; // [N, T]
  mask: Value<D>; // [N, T]
  advantages: Value<D>; // [N, 1]
}
