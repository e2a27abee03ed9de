// Verified groups -> the training graph's inputs. Each response becomes one row: prompt ++ response,
// right-padded. The token at full-sequence index j is predicted at position j-1, so response token i of a
// prompt of length P sits at position P+i-1: that is where loss_mask, logp_old and the advantages apply.
// Advantages and the overlong mask come from libs/algos (the same code the reference loss uses).
import { float32Of, int32Of } from "@lspo/bus";
import { TRAINING_INPUTS, aggregationWeights, prepareLossInput, type AlgorithmParams, type RolloutBatch } from "@lspo/algos";
import { makeTokenBatch, type TokenBatch } from "@lspo/model";
import type { VerifiedGroup } from "@lspo/proto";

export interface TrainingRows {
  batch: TokenBatch;
  /** Responses (rows) and response tokens in the loss. */
  responses: number;
  responseTokens: number;
  /** Mean reward and mean response length of the batch, for metrics. */
  meanReward: number;
  meanLength: number;
  /** Where each row's response starts (position of its first predicted token) and its length. */
  spans: Array<{ start: number; length: number }>;
  /** [row][i] 1 = response token i is in the loss (0: overlong-filtered): the input of the aggregation weights. */
  masks: number[][];
  /** Rows [from, to) of each group, in order: mini-batches are cut at group boundaries. */
  groupRows: Array<{ from: number; to: number }>;
}

/**
 * The `loss_weight` rows for a mini-batch of rows [from, to) of `rows`: `aggregationWeights` over THAT
 * mini-batch's mask (each optimizer step's loss is its mini-batch's; the trainer sums micro-batches), times
 * an optional per-position factor (TIS). [to - from, T], 0 off the response tokens.
 */
export function lossWeights(rows: TrainingRows, params: AlgorithmParams, from: number, to: number, factor?: Float32Array): Float32Array {
  const T = rows.batch.inputIds.shape[1];
  const ragged = aggregationWeights(params, rows.masks.slice(from, to));
  const out = new Float32Array((to - from) * T);
  for (let b = from; b < to; b++) {
    const s = rows.spans[b];
    for (let i = 0; i < s.length; i++) {
      const pos = b * T + s.start + i;
      out[(b - from) * T + s.start + i] = ragged[b - from][i] * (factor ? factor[pos] : 1);
    }
  }
  return out;
}

export class BatchShapeError extends Error {
  override name = "BatchShapeError";
}

/**
 * The temperature a group was sampled at: its prompt's `sampling.temperature` (the rollout records what it
 * used), else `fallback` (the run's rollout.temperature) for a group from a rollout that did not record it.
 */
export function groupTemperature(vg: VerifiedGroup, fallback: number): number {
  const t = vg.group?.prompt?.sampling?.temperature;
  return t === undefined ? fallback : t;
}

export function buildTrainingRows(
  groups: readonly VerifiedGroup[], params: AlgorithmParams, padId: number, vocabSize: number, fallbackTemperature = 1,
): TrainingRows {
  const sequences: number[][] = [];
  const temperature: number[] = [];
  const groupRows: Array<{ from: number; to: number }> = [];
  const spans: Array<{ start: number; length: number }> = [];
  const oldLogp: Float32Array[] = [];
  const rollout: RolloutBatch = { groups: [] };
  let rewardSum = 0;
  let lengthSum = 0;
  groups.forEach((vg, gi) => {
    const g = vg.group;
    if (!g?.prompt) throw new BatchShapeError(`groups[${gi}] has no rollout group or prompt`);
    const prompt = Array.from(int32Of(g.prompt.promptIds));
    if (prompt.length === 0) throw new BatchShapeError(`groups[${gi}].prompt.promptIds is empty (the learner needs token ids)`);
    const temp = groupTemperature(vg, fallbackTemperature);
    groupRows.push({ from: sequences.length, to: sequences.length + g.responses.length });
    if (!(Number.isFinite(temp) && temp >= 0)) throw new BatchShapeError(`groups[${gi}].prompt.sampling.temperature is ${temp}: must be a finite number >= 0`);
    const responses = g.responses.map((r, ri) => {
      const ids = Array.from(int32Of(r.tokenIds));
      const lp = float32Of(r.logprobs);
      if (ids.length === 0) throw new BatchShapeError(`groups[${gi}].responses[${ri}] is empty`);
      for (const t of [...prompt, ...ids]) if (t < 0 || t >= vocabSize) throw new BatchShapeError(`groups[${gi}].responses[${ri}]: token id ${t} outside the vocabulary [0, ${vocabSize})`);
      sequences.push([...prompt, ...ids]);
      temperature.push(temp); // log-probs and entropy at the temperature the rollout sampled at
      spans.push({ start: prompt.length - 1, length: ids.length });
      oldLogp.push(lp);
      lengthSum += ids.length;
      // logp values only shape the advantages and masks here; the graph gets its own log-probs, and
      // logp_ref (KL) is recomputed by the learner with the reference weights.
      return { logp: Array.from(lp), logp_old: Array.from(lp), ...(params.kl_coef > 0 ? { logp_ref: Array.from(lp) } : {}), truncated: r.truncated };
    });
    rewardSum += vg.rewards.reduce((a, b) => a + b, 0);
    rollout.groups.push({ rewards: [...vg.rewards], responses });
  });
  const input = prepareLossInput(params, rollout);
  const batch = makeTokenBatch(sequences, { padId, padSide: "right" });
  batch.temperature = temperature;
  const [B, T] = batch.inputIds.shape;
  const mask = new Float32Array(B * T);
  const logpOld = new Float32Array(B * T);
  // Aggregation weights over the whole mini-batch (libs/model sums micro-batch gradients).
  const weightsRagged = aggregationWeights(params, input.mask);
  const weights = new Float32Array(B * T);
  let responseTokens = 0;
  // The graphs compute log-probs only at response positions (the LM head is the largest activation there is).
  const score = new BigInt64Array(B * T);
  spans.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      const pos = b * T + s.start + i;
      score[pos] = 1n;
      mask[pos] = input.mask[b][i];
      logpOld[pos] = oldLogp[b][i];
      weights[pos] = weightsRagged[b][i];
      responseTokens += input.mask[b][i];
    }
  });
  batch.scoreMask = { dtype: "int64", shape: [B, T], data: score };
  batch.extras = {
    [TRAINING_INPUTS.lossMask]: { dtype: "float32", shape: [B, T], data: mask },
    [TRAINING_INPUTS.logpOld]: { dtype: "float32", shape: [B, T], data: logpOld },
    [TRAINING_INPUTS.advantages]: { dtype: "float32", shape: [B], data: Float32Array.from(input.advantages) },
    [TRAINING_INPUTS.lossWeight]: { dtype: "float32", shape: [B, T], data: weights },
  };
  return {
    batch,
    responses: B,
    responseTokens,
    meanReward: rewardSum / Math.max(1, B),
    meanLength: lengthSum / Math.max(1, B),
    spans,
    masks: input.mask,
    groupRows,
  };
}
