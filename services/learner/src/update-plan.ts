// How one update's groups become optimizer steps (verl's semantics, shared/docs/ALGORITHMS.md): the batch's
// groups cut into mini-batches of `ppoMiniBatch` groups, one optimizer step each, the whole batch passed
// over `ppoEpochs` times; each mini-batch's rows cut into micro-batches of `microBatch` rows, which only
// bound memory (their gradients are summed) and never change the result.

export interface MiniBatch {
  /** Groups [from, to) of the update. */
  groups: { from: number; to: number };
  /** Rows [from, to) of the training batch. */
  rows: { from: number; to: number };
  epoch: number;
}

export class UpdatePlanError extends Error {
  override name = "UpdatePlanError";
}

/** Groups per optimizer step: `ppoMiniBatch`, or 0 = a quarter of the update's groups rounded up (>= 1). */
export function miniBatchGroups(groups: number, ppoMiniBatch: number): number {
  if (!Number.isInteger(ppoMiniBatch) || ppoMiniBatch < 0) throw new UpdatePlanError(`learner.ppoMiniBatch must be an integer >= 0 (0 = a quarter of the batch), got ${ppoMiniBatch}`);
  return ppoMiniBatch > 0 ? ppoMiniBatch : Math.max(1, Math.ceil(groups / 4));
}

/**
 * The update's optimizer steps in order: epoch by epoch, mini-batch by mini-batch. A last mini-batch may
 * hold fewer groups (when ppoMiniBatch does not divide the batch), as verl's split does.
 */
export function planUpdate(groupRows: readonly { from: number; to: number }[], ppoMiniBatch: number, ppoEpochs: number): MiniBatch[] {
  if (!Number.isInteger(ppoEpochs) || ppoEpochs < 1) throw new UpdatePlanError(`learner.ppoEpochs must be an integer >= 1, got ${ppoEpochs}`);
  if (groupRows.length === 0) throw new UpdatePlanError("an update needs at least one group");
  const size = miniBatchGroups(groupRows.length, ppoMiniBatch);
  const out: MiniBatch[] = [];
  for (let epoch = 0; epoch < ppoEpochs; epoch++) {
    for (let g = 0; g < groupRows.length; g += size) {
      const to = Math.min(groupRows.length, g + size);
      out.push({ groups: { from: g, to }, rows: { from: groupRows[g].from, to: groupRows[to - 1].to }, epoch });
    }
  }
  return out;
}

/** Row ranges [from, to) of the micro-batches of rows [from, to); `microBatch` 0 = all rows at once. */
export function microBatchRows(from: number, to: number, microBatch: number): Array<{ from: number; to: number }> {
  const size = microBatch > 0 ? microBatch : to - from;
  const out: Array<{ from: number; to: number }> = [];
  for (let i = from; i < to; i += size) out.push({ from: i, to: Math.min(to, i + size) });
  return out;
}
