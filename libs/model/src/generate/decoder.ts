// What the generation loop drives: one forward step of a decoder with an external KV cache.
// The cache lives in JS in TIME-MAJOR layout [S, B, Hkv, hd] per layer, so appending a step is one
// contiguous copy and the past is fed to the graph as a zero-copy view; the step returns only the new
// K/V slice [T, B, Hkv, hd] (ORT -> JS copies cost, inputs do not). Keys are stored after RoPE, as
// transformers caches them.
// A decoder may instead keep the cache on its device (`openCache`): then its steps return the whole cache
// after the step, left where the provider computed it, and the next step takes it back as the past. Or it may
// keep it on the host in the layout attention reads (`SlotKvCache`, layout "slots"): then a decode step reads the
// cache in place and still returns only the new slice.
import { type LlamaConfig } from "../config.js";
import type { DeviceTensor } from "../runtime/device-tensor.js";
import { type Tensor } from "../tensor.js";

/** One layer's past keys or values: host arrays, or a DeviceTensor from a device-cache decoder. */
export type KvTensor = Tensor<"float32"> | DeviceTensor<"float32">;

export interface DecoderStepInput {
  /** [B, T] tokens of this step (T = prompt length at prefill, 1 when decoding). */
  inputIds: Tensor<"int64">;
  /** [B, T] RoPE positions (they follow the attention mask: left padding does not shift them). */
  positionIds: Tensor<"int64">;
  /** [B, P + T] 1 for real tokens, 0 for padding, over the past and this step's tokens. */
  attentionMask: Tensor<"int64">;
  /** Per layer [P, B, Hkv, hd] (P may be 0); with pastLayout "slots", keys and values [B, Hkv, C, hd]. */
  pastKeys: KvTensor[];
  pastValues: KvTensor[];
  /** How the past is laid out: time-major (default) or the slots of a SlotKvCache (decode steps only, T = 1;
   *  attentionMask still covers time steps [B, P + 1], and slot s is time step s). */
  pastLayout?: "time-major" | "slots";
  /** With slots: each row's own count of filled slots (continuous batching, where rows differ in length and hold no
   *  padding). It replaces the attention mask, which may then be [B, 1]. */
  slotLengths?: Int32Array;
}

export interface DecoderStepOutput {
  /** [B, V] logits of each row's LAST position (all generation needs). */
  logits: Tensor<"float32">;
  /** Per layer [T, B, Hkv, hd]: this step's keys (after RoPE) and values (empty from a device-cache decoder). */
  newKeys: Tensor<"float32">[];
  newValues: Tensor<"float32">[];
  /** Device-cache decoders: per layer the whole cache after this step, [P + T, B, Hkv, hd], on the device. */
  cacheKeys?: DeviceTensor<"float32">[];
  cacheValues?: DeviceTensor<"float32">[];
}

/** A greedy step's answer in place of the logits: each row's first argmax and its log-prob (T = 1). */
export interface GreedyStepOutput extends Omit<DecoderStepOutput, "logits"> {
  /** [B] the first index of each row's largest logit, as torch.argmax. */
  tokens: Int32Array;
  /** [B] log softmax(logits)[token]. */
  logprobs: Float64Array;
}

/** A cache's past as the next step takes it. */
export interface PastCache {
  keys: KvTensor[];
  values: KvTensor[];
  /** Absent: time-major [P, B, Hkv, hd]. */
  layout?: "slots";
}

/** Where generation keeps the past: a host KvCache or SlotKvCache, or a decoder's device cache. */
export interface KvStore {
  /** Time steps held. */
  readonly P: number;
  /** Batch rows. */
  readonly B: number;
  /** Each layer's past, to feed the next step. */
  past(): PastCache;
  /** Takes in a step's keys and values (shapes checked by the caller). */
  append(step: Omit<DecoderStepOutput, "logits">): void;
  /** Keeps only batch rows `rows`, in that order. */
  keepRows(rows: number[]): void | Promise<void>;
  /** Frees what it holds (device memory now rather than at garbage collection). */
  release(): void;
}

export interface IncrementalDecoder {
  readonly config: LlamaConfig;
  step(input: DecoderStepInput): Promise<DecoderStepOutput>;
  /** A step for greedy decoding that picks each row's token where the logits are computed, so they are never
   *  copied out. Null where this decoder does not take that input that way, or a row's logits are not finite
   *  (the caller then runs `step`, whose logits show the entry). */
  greedyStep?(input: DecoderStepInput): Promise<GreedyStepOutput | null>;
  /** The store generation keeps this decoder's cache in; absent or null: a host KvCache. `steps`: the time steps
   *  to make room for at first, and the most the generation can need. */
  openCache?(B: number, steps: { initial: number; max: number }): KvStore | null;
}
