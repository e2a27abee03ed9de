// One call from an untrusted batch to loss, gradient and metrics with the reference implementation: what
// `lspo algo loss` prints and what tests of the learner can compare against.
import { type RolloutBatch, validateBatch } from "./batch.js";
import { NonFiniteLossError } from "./errors.js";
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
  const r = withGroupPaths(batch, () => referenceLoss(spec.params, x));
  return {
    loss: r.loss,
    gradLogp: nestByGroup(batch, r.gradLogp),
    advantages: nestByGroup(batch, x.advantages),
    metrics: r.metrics,
  };
}

/** Re-raises a NonFiniteLossError from the flat response index as the batch's path, groups[g].responses[r]. */
function withGroupPaths<T>(batch: RolloutBatch, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof NonFiniteLossError)) throw e;
    const flat = /^responses\[(\d+)\]$/.exec(e.where);
    if (!flat) throw e;
    let k = Number(flat[1]);
    for (const [gi, g] of batch.groups.entries()) {
      if (k < g.responses.length) throw new NonFiniteLossError(`groups[${gi}].responses[${k}]`, e.token, e.quantity, e.value);
      k -= g.responses.length;
    }
    throw e;
  }
}
