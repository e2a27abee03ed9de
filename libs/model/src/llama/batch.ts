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
  /**
   * [B, T] 1 where a loss reads the log-prob (the response tokens of an RL batch), 0 elsewhere: the graphs
   * compute the LM head and its log-softmax only there and read 0 at the rest. Absent = every position.
   */
  scoreMask?: Tensor<"int64">;
  /** Inputs the loss builder declared, by name (e.g. advantages [B], old log-probs [B, T]). */
  extras?: Record<string, Tensor>;
  /**
   * [B] the temperature each row was sampled at: log-probs and entropy are of softmax(logits / T), as the
   * sampler records them (sampling/sample.ts). Absent = 1 for every row; 0 (greedy) counts as 1, as there.
   */
  temperature?: readonly number[];
}

/** The inverse temperatures a batch's graphs multiply logits by, [B] ([B] ones without `temperature`). */
export function inverseTemperatures(batch: TokenBatch): number[] {
  const B = batch.inputIds.shape[0];
  const t = batch.temperature;
  if (t === undefined) return new Array<number>(B).fill(1);
  if (t.length !== B) throw new BatchError(`batch.temperature has ${t.length} entries, the batch has ${B} rows`);
  return t.map((v, b) => {
    if (!(Number.isFinite(v) && v >= 0)) throw new BatchError(`batch.temperature[${b}] is ${v}: a temperature is a finite number >= 0 (0 = greedy)`);
    return v > 0 ? 1 / v : 1;
  });
}

export class BatchError extends Error {
  override name = "BatchError";
}

/** The flat positions b * T + t a batch scores, ascending: where scoreMask is non-zero, or all of them. */
export function scoredPositions(batch: TokenBatch): Tensor<"int64"> {
  const [B, T] = batch.inputIds.shape;
  const m = batch.scoreMask;
  if (!m) return { dtype: "int64", shape: [B * T], data: BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i)) };
  if (m.shape.length !== 2 || m.shape[0] !== B || m.shape[1] !== T) throw new BatchError(`batch.scoreMask has shape [${m.shape}], inputIds has [${B},${T}]`);
  const at: bigint[] = [];
  m.data.forEach((v, i) => {
    if (v !== 0n) at.push(BigInt(i));
  });
  return { dtype: "int64", shape: [at.length], data: BigInt64Array.from(at) };
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

/**
 * Splits a batch into micro-batches of at most `rows` sequences (for gradient accumulation or memory-bounded
 * forward passes). Every [B, ...] tensor, extras included, is cut along its first axis; scalar extras (shape
 * []) are shared by all parts, so whole-batch normalisers stay whole-batch.
 */
export function splitBatch(batch: TokenBatch, rows: number): TokenBatch[] {
  if (!Number.isInteger(rows) || rows <= 0) throw new BatchError(`splitBatch: rows must be a positive integer, got ${rows}`);
  const B = batch.inputIds.shape[0];
  const cut = <T extends Tensor>(t: T, name: string, from: number, to: number): T => {
    if (t.shape.length === 0) return t;
    if (t.shape[0] !== B) throw new BatchError(`splitBatch: ${name} has first dim ${t.shape[0]}, the batch has ${B} rows`);
    const per = t.data.length / B;
    return { ...t, shape: [to - from, ...t.shape.slice(1)], data: t.data.subarray(from * per, to * per) } as T;
  };
  const parts: TokenBatch[] = [];
  for (let from = 0; from < B; from += rows) {
    const to = Math.min(B, from + rows);
    const part: TokenBatch = {
      inputIds: cut(batch.inputIds, "inputIds", from, to),
      targets: cut(batch.targets, "targets", from, to),
      positionIds: cut(batch.positionIds, "positionIds", from, to),
      attentionMask: cut(batch.attentionMask, "attentionMask", from, to),
    };
    if (batch.scoreMask) part.scoreMask = cut(batch.scoreMask, "scoreMask", from, to);
    if (batch.extras) part.extras = Object.fromEntries(Object.entries(batch.extras).map(([k, t]) => [k, cut(t, `extras.${k}`, from, to)]));
    if (batch.temperature) part.temperature = batch.temperature.slice(from, to);
    parts.push(part);
  }
  return parts;
}
