// Rollout batch -> the shared LossInput: reward shaping, group advantages, masks. The same path for every
// algorithm; what differs is only data in the spec's parameters.
import { advantageEstimators } from "./advantages.js";
import type { RolloutBatch } from "./batch.js";
import type { LossInput } from "./loss-input.js";
import type { AlgorithmParams } from "./params.js";
import { overlongKeep, overlongPenalty } from "./shaping.js";

/** Rewards after shaping, [groups][G]: R_i + overlong penalty(|o_i|) when overlong_shaping is on. */
export function shapedRewards(p: AlgorithmParams, batch: RolloutBatch): number[][] {
  const shaping = { maxLength: p.max_response_length, buffer: p.overlong_buffer, factor: p.overlong_penalty_factor };
  return batch.groups.map((g) =>
    g.rewards.map((r, i) => (p.overlong_shaping ? r + overlongPenalty(g.responses[i].logp.length, shaping) : r)),
  );
}

/** Flattens groups -> responses in order (group 0's responses first), the order of every [N] array. */
export function prepareLossInput(p: AlgorithmParams, batch: RolloutBatch): LossInput {
  const estimator = advantageEstimators.get(p.advantage);
  const advantages = shapedRewards(p, batch).flatMap((rewards) => estimator.compute(rewards));
  const responses = batch.groups.flatMap((g) => g.responses);
  const useKl = p.kl_coef > 0;
  // Entropy is an input when the bonus needs it, and also when every response carries it (metrics only).
  const useEntropy = p.entropy_coef > 0 || responses.every((r) => r.entropy !== undefined);
  return {
    logp: responses.map((r) => [...r.logp]),
    logpOld: responses.map((r) => [...r.logp_old]),
    logpRef: useKl ? responses.map((r) => [...r.logp_ref!]) : null,
    entropy: useEntropy ? responses.map((r) => [...r.entropy!]) : null,
    mask: responses.map((r) => r.logp.map(() => (overlongKeep(r.truncated ?? false, p.overlong_filter) ? 1 : 0))),
    advantages,
  };
}

/** Splits a flat [N][T_i] result back into the batch's groups -> responses -> tokens nesting. */
export function nestByGroup<T>(batch: RolloutBatch, flat: readonly T[]): T[][] {
  let k = 0;
  return batch.groups.map((g) => g.responses.map(() => flat[k++]));
}
