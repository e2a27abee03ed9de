// What the samplers report: counts by outcome, acceptance, thresholds, window fill.
import { OUTCOMES, outcomeNames, type OutcomeCounts } from "./outcomes.js";
import type { Thresholds } from "./quantile.js";

export interface SamplerStats {
  /** Groups offered, duplicates included. */
  readonly offered: number;
  readonly duplicates: number;
  /** Kept by the filters (some may since have been dropped as overflow, see discardedOverflow). */
  readonly accepted: number;
  /** Dropped by the accuracy filter, the length rule or the warm-up policy (duplicates not included). */
  readonly rejected: number;
  /** Per outcome; the rejection reasons are all-correct, all-wrong, middle-length, too-long, warm-up-rejected. */
  readonly outcomes: OutcomeCounts;
  /** accepted / (offered - duplicates): the accuracy filter times the length filter; null before any group. */
  readonly acceptanceRate: number | null;
  /** The refill controller's moving average (stream mode), null in batch mode. */
  readonly smoothedAcceptance: number | null;
  /** Stream: the window's quantiles now. Batch: those of the last generation batch. */
  readonly thresholds: Thresholds | null;
  readonly batchesEmitted: number;
  readonly groupsEmitted: number;
  readonly discardedOverflow: number;
  /** Kept groups waiting for the next batch. */
  readonly pending: number;
  /** Stream mode: slots used, lengths held (the quantiles' sample), capacity W. Null in batch mode. */
  readonly window: { readonly slots: number; readonly lengths: number; readonly capacity: number } | null;
  /** Batch mode: generation rounds since the last emitted batch. Null in stream mode. */
  readonly genRounds: number | null;
}

export function countTotals(counts: OutcomeCounts): { offered: number; duplicates: number; accepted: number; rejected: number; acceptanceRate: number | null } {
  let accepted = 0;
  let rejected = 0;
  for (const name of outcomeNames) {
    if (name === "duplicate") continue;
    if (OUTCOMES[name].kept) accepted += counts[name];
    else rejected += counts[name];
  }
  const duplicates = counts.duplicate;
  const judged = accepted + rejected;
  return { offered: judged + duplicates, duplicates, accepted, rejected, acceptanceRate: judged === 0 ? null : accepted / judged };
}
