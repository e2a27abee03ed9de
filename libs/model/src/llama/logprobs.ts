// Token log-probs from the final hidden states, computed only where a loss reads them and a slice of the
// vocabulary at a time (issue 16): the [N, V] logits of a whole batch are the learner's largest tensors (a
// 152k vocabulary makes them 0.6 MB per token), and most positions of an RL sequence are prompt or padding.
//
//   log p(t | h) = z_t - logsumexp_v z_v,   z = (h W^T) / temperature
//
// computed for the M scored positions only, as per-chunk logsumexps over vocabulary slices [M, chunk] joined
// by one more logsumexp, the target's logit picked from the chunk that holds it (the very element the GEMM
// made). Unscored positions read 0.
import type { Dim, FloatDType, Value } from "../graph/graph.js";
import { add, and, exp, greaterOrEqual, less, maximum, minimum, mul, sub, where } from "../graph/ops-elementwise.js";
import { reduceLogSumExp, reduceSum } from "../graph/ops-linalg.js";
import { concat, constantOfShape, expand, gather, gatherElements, reshape, scatterElements, slice, unsqueeze } from "../graph/ops-layout.js";
import { linear } from "./layers.js";

export interface ScoredInputs<D extends FloatDType> {
  /** [B, T] the token each position predicts. */
  targets: Value<"int64">;
  /** [B] 1 / each row's sampling temperature. */
  invTemperature: Value<D>;
  /** [M] the flat positions (b * T + t) to score, each once. */
  scored: Value<"int64">;
}

export interface ScoredOptions {
  /** Vocabulary entries per chunk (0 or >= V: the whole vocabulary at once). Each chunk's slice of the head's
   *  weight and its logits live only while the chunk is computed: for forward-only graphs. (Training graphs use
   *  one chunk: their backward pass would keep every chunk's logits, and measured, recomputing them there saved
   *  5% of the peak at the cost of a weight copy; bench learner-memory.) */
  vocabChunk?: number;
}

export interface ScoredLogprobs<D extends FloatDType> {
  /** [B, T] log p(target) at each scored position at its row's temperature, 0 elsewhere. */
  logprobs: Value<D>;
  /** [B, T] the entropy of the predictive distribution at scored positions, 0 elsewhere (built on first call;
   *  it reads every chunk's logits again, so they stay alive for the backward pass). */
  entropy(): Value<D>;
}

/** Chunk sizes covering `V` entries, `chunk` at a time (the last one shorter). */
export function vocabChunks(V: number, chunk = 0): number[] {
  if (!Number.isInteger(chunk) || chunk < 0) throw new Error(`vocabChunk must be a non-negative integer, got ${chunk}`);
  if (chunk === 0 || chunk >= V) return [V];
  return Array.from({ length: Math.ceil(V / chunk) }, (_, i) => Math.min(chunk, V - i * chunk));
}

/** hidden [N, D] (N = B*T rows), head weight [V, D] -> log-probs [B, T] at the scored positions. */
export function scoredLogprobs<D extends FloatDType>(hidden: Value<D>, head: Value<D>, inp: ScoredInputs<D>, o: ScoredOptions = {}): ScoredLogprobs<D> {
  const g = hidden.graph;
  const [B, T] = inp.targets.shape as [Dim, Dim];
  const V = head.shape[0] as number;
  const h = gather(hidden, inp.scored, 0); // [M, D]
  const target = unsqueeze(gather(reshape(inp.targets, [-1]), inp.scored, 0), [1]); // [M, 1]
  const perPosition = reshape(expand(reshape(inp.invTemperature, [B, 1]), [B, T]), [-1]); // [N]
  const scale = unsqueeze(gather(perPosition, inp.scored, 0), [1]); // [M, 1]

  const sizes = vocabChunks(V, o.vocabChunk);
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  const logits: Value<D>[] = [];
  const lse: Value<D>[] = [];
  let picked: Value<D> | null = null;
  sizes.forEach((size, i) => {
    const w = sizes.length === 1 ? head : slice(head, [offsets[i]], [offsets[i] + size], [0]); // [chunk, D]
    const z = mul(linear(h, w), scale); // [M, chunk]
    logits.push(z);
    lse.push(reduceLogSumExp(z, [1], true)); // [M, 1]
    let pick: Value<D>;
    if (sizes.length === 1) pick = gatherElements(z, target, 1); // [M, 1]
    else {
      // The target's logit when this chunk holds it, else 0: each target is in exactly one chunk.
      const local = sub(target, offsets[i]);
      const inside = and(greaterOrEqual(local, 0), less(local, size));
      pick = where(inside, gatherElements(z, minimum(maximum(local, 0), size - 1), 1), g.scalar(z.dtype, 0));
    }
    picked = picked ? add(picked, pick) : pick;
  });
  const logZ = lse.length === 1 ? lse[0] : reduceLogSumExp(concat(lse, 1), [1], true); // [M, 1]
  const scattered = (perScored: Value<D>) => {
    const zeros = constantOfShape(g, [`${B}*${T}`], perScored.dtype, 0); // [N]
    return reshape(scatterElements(zeros, inp.scored, reshape(perScored, [-1]), 0, "add"), [B, T]); // [B, T]
  };
  let entropy: Value<D> | null = null;
  return {
    logprobs: scattered(sub(picked!, logZ)),
    entropy() {
      // H = logZ - sum_v p_v z_v with p_v = exp(z_v - logZ), summed chunk by chunk.
      entropy ??= scattered(sub(logZ, logits.map((z) => reduceSum(mul(exp(sub(z, logZ)), z), [1], true)).reduce((a, b) => add(a, b))));
      return entropy;
    },
  };
}
