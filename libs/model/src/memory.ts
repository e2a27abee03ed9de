// A memory model: bytes per parameter and per token for the learner and for a process that only runs the
// model (a rollout actor, `lspo model generate`), from the config alone, so a run can be refused before it
// starts instead of being killed halfway (issue 16). Estimates, not accounting: the per-parameter and
// per-token counts below are what the graphs hold, and docs/BENCHMARKS.md ("Memory model") sets them
// beside measured peaks (bench/model.ts's learner, bench/model-scale.ts's inference processes).
import type { LlamaConfig } from "./config.js";
import { parameterCount } from "./hf/params.js";

/** Node + onnxruntime + the libraries, before any model (about what a process that loads nothing peaks at). */
export const BASELINE_BYTES = 180 * 2 ** 20;

/**
 * Learner bytes per parameter, all float32: the weights it trains (4), the gradients the training graph returns
 * (4; a second micro-batch's arrive beside the accumulated sum), and AdamW's two moments (8). The JS AdamW
 * updates in place; the learner service trains the model as it loaded it (no copy) and writes checkpoints from
 * the live moments. Each further copy of the weights adds 4 (`weightCopies`): the KL reference, read once an
 * algorithm with a KL term runs, or a caller's own copy (bench/model.ts keeps the weights it hands the trainer).
 */
export const LEARNER_BYTES_PER_PARAM = 16;

/**
 * Float32 values the training graph holds per token for the backward pass, per layer: ~18 of the hidden size
 * (norm inputs and outputs, q/k/v/o, residuals, their gradients in flight), ~6 of the MLP's (gate, up, the
 * SiLU product, their gradients) and ~5 per attended key per head (scores, masked scores, probabilities,
 * their gradient); at the LM head ~7 over the vocabulary per token (logits, temperature-scaled, log-softmax,
 * exp, the gradient). Calibrated on the learner's measured peaks at 3M and 25M (bench/model.ts): the counts
 * from reading the graph came out about 1.5x short, onnxruntime keeping more intermediates alive than the
 * backward pass strictly needs.
 */
const PER_LAYER_HIDDEN = 18;
const PER_LAYER_MLP = 6;
const PER_LAYER_ATTENTION = 5;
const LM_HEAD_PER_TOKEN = 7;

export interface MemoryEstimate {
  /** The whole estimate, bytes. */
  bytes: number;
  /** What it is made of, bytes. */
  parts: Record<string, number>;
}

const sum = (parts: Record<string, number>): MemoryEstimate => ({ bytes: Object.values(parts).reduce((a, b) => a + b, 0), parts });

/** Float32 values one decoder layer keeps per token for the backward pass, for sequences of `seq` tokens. */
function layerFloatsPerToken(c: LlamaConfig, seq: number): number {
  return PER_LAYER_HIDDEN * c.hiddenSize + PER_LAYER_MLP * c.intermediateSize + PER_LAYER_ATTENTION * c.numHeads * seq;
}

/** Float32 values per token the training graph keeps, for sequences of `seq` tokens, every position scored. */
export function trainingFloatsPerToken(c: LlamaConfig, seq: number): number {
  return c.numLayers * layerFloatsPerToken(c, seq) + LM_HEAD_PER_TOKEN * c.vocabSize;
}

export interface LearnerShape {
  /** Sequences per training-graph pass (learner.microBatch, or the whole batch). */
  rows: number;
  /** Tokens per sequence (prompt + response, padded). */
  seq: number;
  /** Positions per sequence whose log-probs a loss reads (the response tokens); default `seq`. */
  scored?: number;
  /** Layers recomputed in the backward pass (learner.recompute). */
  recompute?: boolean;
  /** Vocabulary entries per log-softmax chunk (learner.vocabChunk; training uses it with `recompute`). */
  vocabChunk?: number;
  /** Further copies of the weights held (the KL reference). */
  weightCopies?: number;
}

/**
 * The learner's peak for updates on `rows` sequences of `seq` tokens per training-graph pass, its state included.
 * Layers keep their activations for the backward pass, or with `recompute` only their inputs (one [tokens, D]
 * each) plus the one layer being recomputed; the LM head keeps ~7 values per scored token and vocabulary entry,
 * over a chunk of the vocabulary when chunked (then the head's weight is held once more, in chunks).
 */
export function learnerMemory(c: LlamaConfig, o: LearnerShape): MemoryEstimate {
  const P = parameterCount(c);
  const parts: Record<string, number> = {
    baseline: BASELINE_BYTES,
    "parameters, gradients, AdamW (16 B per parameter)": LEARNER_BYTES_PER_PARAM * P,
  };
  if (o.weightCopies) parts[`${o.weightCopies} more cop${o.weightCopies === 1 ? "y" : "ies"} of the weights`] = 4 * P * o.weightCopies;
  const tokens = o.rows * o.seq;
  const layer = layerFloatsPerToken(c, o.seq);
  parts[o.recompute ? "layer inputs and one layer's activations" : "layer activations"] = 4 * tokens * (o.recompute ? c.numLayers * c.hiddenSize + layer : c.numLayers * layer);
  const chunked = o.recompute && o.vocabChunk !== undefined && o.vocabChunk > 0 && o.vocabChunk < c.vocabSize;
  parts["LM head"] = 4 * LM_HEAD_PER_TOKEN * (chunked ? o.vocabChunk! : c.vocabSize) * o.rows * Math.min(o.scored ?? o.seq, o.seq);
  if (chunked) parts["the head's weight in vocabulary chunks"] = 4 * c.vocabSize * c.hiddenSize;
  return sum(parts);
}

/**
 * A process that only runs the model: float32 weights (4 B per parameter, whatever the file held), the KV cache
 * of `rows` sequences of up to `seq` tokens, the last logits; plus, for a rollout actor taking a new version,
 * the one shard it is writing into its weights (`incomingShardBytes`: a version arrives a shard at a time and is
 * written in place, so never two models).
 */
export function inferenceMemory(c: LlamaConfig, o: { rows: number; seq: number; incomingShardBytes?: number }): MemoryEstimate {
  const P = parameterCount(c);
  const parts: Record<string, number> = {
    baseline: BASELINE_BYTES,
    "weights (4 B per parameter)": 4 * P,
    "KV cache": 2 * c.numLayers * o.rows * o.seq * c.numKvHeads * c.headDim * 4,
    logits: o.rows * c.vocabSize * 4,
  };
  if (o.incomingShardBytes) parts["a new version's shard"] = o.incomingShardBytes;
  return sum(parts);
}

export const GIB = 2 ** 30;

/** "9.3 GiB (parameters, gradients, AdamW 7.1 GiB, activations 2.0 GiB, baseline 0.2 GiB)". */
export function describeEstimate(e: MemoryEstimate): string {
  const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`;
  return `${gib(e.bytes)} (${Object.entries(e.parts).map(([k, v]) => `${k} ${gib(v)}`).join(", ")})`;
}
