// What bench/decode.ts measures at each size: the models (config, batches, runs), the generation lengths,
// the step-time-vs-position run and the goals of issue 22. `tiny` is the smoke form: small stand-ins for
// the two models (the second keeps Qwen's vocabulary and attention bias, which is what makes the 0.5B
// model's LM head and q/k/v projections what they are) and short generations, the same steps in seconds.
import type { LlamaConfig } from "@lspo/model";
import type { AttentionGeometry, AttentionShape } from "./decode-attention.js";
import type { RolloutWorkload } from "./decode-rollout.js";

export type Size = "real" | "tiny";
export type Engine = "in-place" | "concat" | "torch";
export const ENGINES: readonly Engine[] = ["in-place", "concat", "torch"];

export interface DecodeModel {
  name: string;
  cfg: LlamaConfig;
  batches: number[];
  /** Repeats of every (engine, batch) generation; a run is one generation per engine and batch. */
  runs: number;
}

/** Step time vs position: one long generation per engine and run, step times around two positions. */
export interface PositionRun {
  model: string;
  batch: number;
  prompt: number;
  newTokens: number;
  /** Windows of decode steps by P (cache positions before the step): [at - halfWidth, at + halfWidth). */
  near: number;
  far: number;
  halfWidth: number;
  runs: number;
}

/** A goal on a within-run ratio: in-place tokens/s over PyTorch's (`atLeast`), or the step-time growth (`atMost`). */
export type Goal =
  | { kind: "speedup"; model: string; batch: number; atLeast: number }
  | { kind: "flat-steps"; atMost: number };

/** Part 4: the attention products alone (bench/lib/decode-attention.ts), at each geometry's shapes. */
export interface AttentionRun {
  geometries: { name: string; geometry: AttentionGeometry; shapes: AttentionShape[] }[];
  runs: number;
  /** Timed steps per form and run (the median is kept). */
  reps: number;
  /** Bytes the reference ReduceSum streams. */
  streamBytes: number;
}

export interface DecodeSetup {
  size: Size;
  models: DecodeModel[];
  prompt: number;
  newTokens: number;
  position: PositionRun;
  attention: AttentionRun;
  /** Part 3: a rollout actor's call (bench/lib/decode-rollout.ts), on the first model. */
  rollout: RolloutWorkload;
  goals: Goal[];
}

/** bench/model.ts's config(): a Llama config with tied embeddings and no attention bias. */
function llama(vocab: number, D: number, I: number, L: number, H: number, K: number): LlamaConfig {
  return {
    modelType: "llama", vocabSize: vocab, hiddenSize: D, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: K,
    headDim: D / H, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
  };
}

/** A Qwen2 config (q/k/v bias, tied embeddings, rope_theta 1e6, 32k positions) of the given shape. */
function qwen2(D: number, I: number, L: number, H: number, K: number): LlamaConfig {
  return {
    modelType: "qwen2", vocabSize: 151936, hiddenSize: D, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: K,
    headDim: D / H, rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 32768, tieWordEmbeddings: true,
    attentionBias: true, qkNorm: false, bosTokenId: 151643, eosTokenIds: [151643], padTokenId: null,
  };
}

function geometry(numHeads: number, numKvHeads: number, headDim: number, numLayers: number): AttentionGeometry {
  return { numHeads, numKvHeads, headDim, numLayers };
}

export function setupFor(size: Size, runs?: number): DecodeSetup {
  if (size === "real") {
    return {
      size,
      models: [
        { name: "25M", cfg: llama(8192, 512, 1408, 7, 8, 4), batches: [1, 16, 64], runs: runs ?? 3 },
        // Qwen2.5-0.5B's shape; about a minute per engine at batch 16 on 2 cores, so fewer runs.
        { name: "0.5B", cfg: qwen2(896, 4864, 24, 14, 2), batches: [1, 16], runs: runs ?? 2 },
      ],
      prompt: 64,
      newTokens: 256,
      // 1024 new tokens from a 64-token prompt: decode steps reach P = 1086, past the far window.
      position: { model: "25M", batch: 16, prompt: 64, newTokens: 1024, near: 128, far: 1024, halfWidth: 16, runs: runs ?? 2 },
      // 16 prompts x G = 8 through 32 rows (promptsPerCall 4 x G before); 40 stop ids of 8,192: mean ~200 tokens.
      rollout: { prompts: 16, groupSize: 8, rows: 32, maxNewTokens: 512, stopIds: 40, promptLengths: [32, 128], runs: runs ?? 2 },
      // The two models' geometries (G 2 and 7) and Llama-3.2-1B's (G 4: 32 query heads, 8 kv heads, 16 layers);
      // 25M at the position part's batch and windows and at the widest batch.
      attention: {
        geometries: [
          { name: "25M (G 2)", geometry: geometry(8, 4, 64, 7), shapes: [{ batch: 16, slots: 128 }, { batch: 16, slots: 1024 }, { batch: 64, slots: 256 }] },
          { name: "Llama-3.2-1B (G 4)", geometry: geometry(32, 8, 64, 16), shapes: [{ batch: 1, slots: 256 }, { batch: 16, slots: 256 }] },
          { name: "0.5B (G 7)", geometry: geometry(14, 2, 64, 24), shapes: [{ batch: 1, slots: 192 }, { batch: 16, slots: 192 }, { batch: 16, slots: 1024 }] },
        ],
        runs: runs ?? 5, reps: 20, streamBytes: 512 * 2 ** 20,
      },
      goals: [
        { kind: "speedup", model: "25M", batch: 16, atLeast: 3 },
        { kind: "speedup", model: "25M", batch: 64, atLeast: 3 },
        { kind: "speedup", model: "0.5B", batch: 16, atLeast: 1.5 },
        { kind: "flat-steps", atMost: 1.3 },
      ],
    };
  }
  return {
    size,
    models: [
      { name: "tiny", cfg: llama(512, 64, 128, 2, 4, 2), batches: [1, 4], runs: runs ?? 2 },
      { name: "tiny-qwen", cfg: qwen2(64, 128, 2, 4, 2), batches: [1, 4], runs: runs ?? 1 },
    ],
    prompt: 16,
    newTokens: 32,
    position: { model: "tiny", batch: 4, prompt: 16, newTokens: 144, near: 32, far: 128, halfWidth: 8, runs: runs ?? 1 },
    rollout: { prompts: 4, groupSize: 4, rows: 8, maxNewTokens: 64, stopIds: 16, promptLengths: [4, 16], runs: runs ?? 1 },
    attention: {
      geometries: [
        { name: "tiny (G 2)", geometry: geometry(4, 2, 16, 2), shapes: [{ batch: 4, slots: 32 }] },
        { name: "tiny (G 8)", geometry: geometry(8, 1, 16, 2), shapes: [{ batch: 4, slots: 32 }] },
      ],
      runs: runs ?? 1, reps: 3, streamBytes: 16 * 2 ** 20,
    },
    goals: [
      { kind: "speedup", model: "tiny", batch: 4, atLeast: 3 },
      { kind: "speedup", model: "tiny-qwen", batch: 4, atLeast: 1.5 },
      { kind: "flat-steps", atMost: 1.3 },
    ],
  };
}

/** B seeded prompts of `length` ids in [2, vocab) (0 and 1 are pad and eos in bench/model.ts's configs). */
export function randomPrompts(B: number, length: number, vocab: number, seed: number): number[][] {
  const next = xorshift32(seed);
  return Array.from({ length: B }, () => Array.from({ length }, () => 2 + (next() % (vocab - 2))));
}

/** xorshift32 from `seed`: uint32s, exact in doubles (unlike an LCG's products past 2^53). */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1; // the state must not be 0
  return () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), (s >>>= 0));
}
