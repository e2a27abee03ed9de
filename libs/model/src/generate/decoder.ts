// What the generation loop drives: one forward step of a decoder with an external KV cache.
// The cache lives in JS in TIME-MAJOR layout [S, B, Hkv, hd] per layer, so appending a step is one
// contiguous copy and the past is fed to the graph as a zero-copy view; the step returns only the new
// K/V slice [T, B, Hkv, hd] (ORT -> JS copies cost, inputs do not). Keys are stored after RoPE, as
// transformers caches them.
import { type LlamaConfig } from "../config.js";
import { type Tensor } from "../tensor.js";

export interface DecoderStepInput {
  /** [B, T] tokens of this step (T = prompt length at prefill, 1 when decoding). */
  inputIds: Tensor<"int64">;
  /** [B, T] RoPE positions (they follow the attention mask: left padding does not shift them). */
  positionIds: Tensor<"int64">;
  /** [B, P + T] 1 for real tokens, 0 for padding, over the past and this step's tokens. */
  attentionMask: Tensor<"int64">;
  /** Per layer [P, B, Hkv, hd] (P may be 0). */
  pastKeys: Tensor<"float32">[];
  pastValues: Tensor<"float32">[];
}

export interface DecoderStepOutput {
  /** [B, V] logits of each row's LAST position (all generation needs). */
  logits: Tensor<"float32">;
  /** Per layer [T, B, Hkv, hd]: this step's keys (after RoPE) and values. */
  newKeys: Tensor<"float32">[];
  newValues: Tensor<"float32">[];
}

export interface IncrementalDecoder {
  readonly config: LlamaConfig;
  step(input: DecoderStepInput): Promise<DecoderStepOutput>;
}
