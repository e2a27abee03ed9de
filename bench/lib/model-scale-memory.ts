// The memory model (libs/model memory.ts) beside the training run's measured peaks: the learner's estimate for
// its passes (learner.microBatch rows of the run's row length) and the rollout actor's for its generations
// (G x promptsPerCall rows, the one shard of a new version it writes into its weights), each with
// estimate / measured; and the goals (learner at most 12 GB, rollout actor at most 4 GB, the
// estimates within 25%) as flags, not assertions.
import { GIB, inferenceMemory, learnerMemory, parameterCount, parseConfigJson, type MemoryEstimate } from "@lspo/model";

export interface Estimated {
  role: string;
  run: string;
  measuredBytes: number;
  estimateBytes: number;
  parts: Record<string, number>;
  /** What the estimate was asked for (rows per pass, tokens per row). */
  for: Record<string, number>;
  /** estimate / measured */
  ratio: number;
  within25: boolean;
}

export interface Shape {
  /** Rows of one learner pass (learner.microBatch). */
  learnerRows: number;
  /** Positions per row whose log-probs the loss reads (the response tokens). */
  scored: number;
  /** The run's learner.recompute and learner.vocabChunk. */
  recompute: boolean;
  vocabChunk: number;
  /** Rows of one generation (rollout.groupSize x rollout.promptsPerCall). */
  rolloutRows: number;
  /** Tokens per row, prompt and response (the run's mean). */
  seq: number;
  /** A new version's shard (learner.weightsShardMb). */
  shardBytes: number;
  /** Further copies of the weights in the learner (the KL reference): 0 for DAPO. */
  weightCopies: number;
  /** More than one pass per optimizer step (gradients summed over micro-batches). */
  accumulates: boolean;
}

/**
 * The largest shard of a published version: learner.weightsShardMb, or the largest tensor where it is bigger
 * (a tensor is never split; the tied embedding is 151,936 x hidden floats), and never more than the model.
 */
export function largestShardBytes(hfConfig: Record<string, unknown>, shardBytes: number): number {
  const c = parseConfigJson(hfConfig);
  return Math.min(4 * parameterCount(c), Math.max(shardBytes, 4 * c.vocabSize * c.hiddenSize, 4 * c.intermediateSize * c.hiddenSize));
}

export function estimates(hfConfig: Record<string, unknown>, s: Shape): { learner: MemoryEstimate; rollout: MemoryEstimate } {
  const c = parseConfigJson(hfConfig);
  return {
    learner: learnerMemory(c, { rows: s.learnerRows, seq: s.seq, scored: s.scored, recompute: s.recompute, vocabChunk: s.vocabChunk, weightCopies: s.weightCopies, accumulates: s.accumulates }),
    rollout: inferenceMemory(c, { rows: s.rolloutRows, seq: s.seq, incomingShardBytes: largestShardBytes(hfConfig, s.shardBytes) }),
  };
}

export function beside(role: string, run: string, e: MemoryEstimate, measuredBytes: number, forWhat: Record<string, number>): Estimated {
  const ratio = e.bytes / measuredBytes;
  return { role, run, measuredBytes, estimateBytes: e.bytes, parts: e.parts, for: forWhat, ratio, within25: Math.abs(ratio - 1) <= 0.25 };
}

export interface Goal {
  peakBytes: number;
  peakGiB: number;
  limitGiB: number;
  /** At most the limit in GiB (the unit learner.memoryBudgetGb counts in). */
  met: boolean;
  /** At most the limit read as decimal GB (10^9 bytes), the stricter reading of the "12 GB". */
  metDecimal: boolean;
}

export const goal = (peakBytes: number, limitGiB: number): Goal => ({
  peakBytes, peakGiB: peakBytes / GIB, limitGiB, met: peakBytes <= limitGiB * GIB, metDecimal: peakBytes <= limitGiB * 1e9,
});
