// Full-sequence batches for the log-prob and training graphs: token ids, the token each position predicts,
// positions that follow the attention mask, and the mask itself, all [B, T].
import type { Tensor } from "../tensor.js";

export interface TokenBatch {
  /** [B, T] token ids (padding where mask = 0). */
  inputIds: Tensor<"int64">;
  /** [B, T] the token position t predicts: inputIds[b, t+1] for real next tokens, the pad id elsewhere. */
  targets: Tensor<"int64">;
  /** [B, T] RoPE positions following the mask (see positionsFromMask). */
  positionIds: Tensor<"int64">;
  /** [B, T] 1 for real tokens, 0 for padding. */
  attentionMask: Tensor<"int64">;
  /** Inputs the loss builder declared, by name (e.g. advantages [B], old log-probs [B, T]). */
  extras?: Record<string, Tensor>;
}

export class BatchError extends Error {
  override name = "BatchError";
}

/**
 * Positions as transformers derives them from a mask: the count of real tokens before each token
 * (cumsum(mask) - 1), with padding positions set to 1. Left padding therefore does not shift positions.
 */
export function positionsFromMask(mask: Tensor<"int64">): Tensor<"int64"> {
  const [B, T] = mask.shape;
  const out = new BigInt64Array(B * T);
  for (let b = 0; b < B; b++) {
    let seen = 0n;
    for (let t = 0; t < T; t++) {
      const real = mask.data[b * T + t] !== 0n;
      if (real) seen++;
      out[b * T + t] = real ? seen - 1n : 1n;
    }
  }
  return { dtype: "int64", shape: [B, T], data: out };
}

export interface TokenBatchOptions {
  padId?: number;
  /** Right padding (default) keeps every sequence at positions 0..; left padding matches generation. */
  padSide?: "left" | "right";
  /** Pad to this length (default: the longest sequence). */
  length?: number;
}

/**
 * Packs token sequences into a TokenBatch. Token j of sequence b (j >= 1) is predicted at position j-1:
 * its log-prob is logprobs[b, offset + j - 1], where offset is the left padding (0 with right padding).
 */
export function makeTokenBatch(sequences: readonly (readonly number[])[], o: TokenBatchOptions = {}): TokenBatch {
  if (sequences.length === 0) throw new BatchError("makeTokenBatch: no sequences");
  const pad = BigInt(o.padId ?? 0);
  const longest = Math.max(...sequences.map((s) => s.length));
  const T = o.length ?? longest;
  if (T < longest) throw new BatchError(`makeTokenBatch: length ${T} is shorter than the longest sequence (${longest})`);
  if (T === 0) throw new BatchError("makeTokenBatch: every sequence is empty");
  const B = sequences.length;
  const ids = new BigInt64Array(B * T).fill(pad);
  const targets = new BigInt64Array(B * T).fill(pad);
  const mask = new BigInt64Array(B * T);
  sequences.forEach((s, b) => {
    const off = o.padSide === "left" ? T - s.length : 0;
    s.forEach((tok, j) => {
      if (!Number.isInteger(tok) || tok < 0) throw new BatchError(`makeTokenBatch: sequence ${b} token ${j} is ${tok}, not a token id`);
      ids[b * T + off + j] = BigInt(tok);
      mask[b * T + off + j] = 1n;
      if (j > 0) targets[b * T + off + j - 1] = BigInt(tok);
    });
  });
  const attentionMask: Tensor<"int64"> = { dtype: "int64", shape: [B, T], data: mask };
  return {
    inputIds: { dtype: "int64", shape: [B, T], data: ids },
    targets: { dtype: "int64", shape: [B, T], data: targets },
    positionIds: positionsFromMask(attentionMask),
    attentionMask,
  };
}
