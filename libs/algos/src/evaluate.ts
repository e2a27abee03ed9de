// One call from an untrusted batch to loss, gradient and metrics with the reference implementation: what
// `lspo algo loss` prints and what tests of the learner can compare against.
import { type RolloutBatch, validateBatch } from "./batch.js";
import { nestByGroup, prepareLossInput } from "./prepare.js";
import { referenceLoss, type UpdateMetrics } from "./reference.js";
import type { AlgorithmSpec } from "./spec.js";

export interface BatchEvaluation {
  loss: number;
  /** [groups][responses][tokens] d loss / d logp, nested like the input. */
  gradLogp: number[][][];
  /** [groups][responses] the advantage each response got (after any reward shaping). */
  advantages: number[][];
  metrics: UpdateMetrics;
}

export function evaluateBatch(spec: AlgorithmSpec, input: unknown): BatchEvaluation {
  const batch: RolloutBatch = validateBatch(input, spec.params);
  const x = prepareLossInput(spec.params, batch);
  const r = referenceLoss(spec.params, x);
  return {
    loss: r.loss,
    gradLogp: nestByGroup(batch, r.gradLogp),
    advantages: nestByGroup(batch, x.advantages),
    metrics: r.metrics,
  };
}
