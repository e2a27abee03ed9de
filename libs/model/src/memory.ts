// A memory model: bytes per parameter and per token for the learner and for a process that only runs the
// model (a rollout actor, `lspo model generate`), from the config alone, so a run can be refused before it
// starts instead of being killed halfway (issue 16). Estimates, not accounting: the per-parameter and
// per-token counts below are calibrated on measured peaks, and docs/BENCHMARKS.md ("Memory model", "Learner
// memory") sets the estimates beside measured peaks (bench/learner-memory.ts, bench/model.ts's learner,
// bench/model-scale.ts's learner, rollout actor and inference processes).
import type { LlamaConfig } from "./config.js";
import { parameterCount } from "./hf/params.js";

/** Node + onnxruntime + the libraries, before any model (about what a process that loads nothing peaks at). */
export const BASELINE_BYTES = 180 * 2 ** 20;

/**
 * Learner bytes per parameter, all float32: in JS the weights it trains (4), the gradients the training graph
 * returns (4; with micro-batches another 4, `accumulates`) and AdamW's two moments (8); and in
 * onnxruntime's arena the graph's own gradient outputs (4), which the arena keeps for the next step once they
 * are copied out. The JS AdamW updates in place; the learner service trains the model as it loaded it (no copy)
 * and writes checkpoints from the live moments. Each further copy of the weights adds 4 (`weightCopies`): the
 * KL reference, read once an algorithm with a KL term runs, or a caller's own copy.
 */
export const LEARNER_BYTES_PER_PARAM = 20;

// Per-token counts, float32 values, measured rather than read off the graph: onnxruntime's arena grows in
// doublings and keeps what it grew to, so a peak is the arena's size, a step function of what is alive.
// Calibrated on bench/learner-memory.ts (training steps and log-prob passes at 2,048 tokens, docs/BENCHMARKS.md
// "Learner memory"), where the estimates below land within 10% of the measured peaks.
/** Kept per token by each layer for the backward pass: ~10 of the hidden size (norm inputs and outputs, q/k/v/o,
 *  residuals), ~3 of the MLP's (gate, up, the SiLU product), ~2.7 per attended key per head (scores,
 *  probabilities). */
const PER_LAYER_HIDDEN = 10;
const PER_LAYER_MLP = 3;
const PER_LAYER_ATTENTION = 2.7;
/** With recompute: kept per layer per token between the layers' copies (its input and what the arena keeps). */
const RECOMPUTE_PER_LAYER_HIDDEN = 12;
/** With recompute: the layer being recomputed, as a share of what a layer keeps without recompute. */
const RECOMPUTED_LAYER_SHARE = 0.6;
/** The LM head per scored token and vocabulary entry: the logits, their exp and the gradient, in a training
 *  step; in a log-prob pass (no gradient) the logits of one chunk and their exp. */
const LM_HEAD_PER_TOKEN = 3;
const LOGPROB_HEAD_PER_TOKEN = 1.5;

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
  /** Vocabulary entries per log-softmax chunk in log-prob passes (learner.vocabChunk). */
  vocabChunk?: number;
  /** Further copies of the weights held (the KL reference). */
  weightCopies?: number;
  /** More than one pass per optimizer step (micro-batches): while a pass's gradients are copied out of
   *  onnxruntime, the running sum is held beside them (4 B per parameter more). */
  accumulates?: boolean;
}

/**
 * The learner's peak for updates on `rows` sequences of `seq` tokens per training-graph pass, its state included.
 * Layers keep their activations for the backward pass, or with `recompute` about their inputs plus the one layer
 * being recomputed; the LM head ~3 values per scored token and vocabulary entry.
 */
export function learnerMemory(c: LlamaConfig, o: LearnerShape): MemoryEstimate {
  const P = parameterCount(c);
  const parts: Record<string, number> = {
    baseline: BASELINE_BYTES,
    "parameters, gradients, AdamW (20 B per parameter)": LEARNER_BYTES_PER_PARAM * P,
  };
  if (o.weightCopies) parts[`${o.weightCopies} more cop${o.weightCopies === 1 ? "y" : "ies"} of the weights`] = 4 * P * o.weightCopies;
  if (o.accumulates) parts["gradients summed over micro-batches (4 B per parameter)"] = 4 * P;
  const tokens = o.rows * o.seq;
  const layer = layerFloatsPerToken(c, o.seq);
  parts[o.recompute ? "layer inputs and one layer's activations" : "layer activations"] =
    4 * tokens * (o.recompute ? c.numLayers * RECOMPUTE_PER_LAYER_HIDDEN * c.hiddenSize + RECOMPUTED_LAYER_SHARE * layer : c.numLayers * layer);
  parts["LM head"] = 4 * LM_HEAD_PER_TOKEN * c.vocabSize * o.rows * Math.min(o.scored ?? o.seq, o.seq);
  return sum(parts);
}

/** A log-prob pass (forward only, old or reference log-probs): the weights, one layer's activations at a time,
 *  the head's logits over one vocabulary chunk. */
export function logprobPassMemory(c: LlamaConfig, o: LearnerShape): MemoryEstimate {
  const P = parameterCount(c);
  const chunk = o.vocabChunk && o.vocabChunk < c.vocabSize ? o.vocabChunk : c.vocabSize;
  const tokens = o.rows * o.seq;
  return sum({
    baseline: BASELINE_BYTES,
    "weights (4 B per parameter)": 4 * P,
    "one layer's activations": 4 * tokens * layerFloatsPerToken(c, o.seq),
    "LM head": 4 * LOGPROB_HEAD_PER_TOKEN * chunk * o.rows * Math.min(o.scored ?? o.seq, o.seq),
  });
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
