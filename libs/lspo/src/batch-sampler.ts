// Batch mode: the paper's rule (LSPO, arXiv 2510.01459, on top of DAPO's dynamic sampling). Per
// generation batch: accuracy filter, per-prompt mean length, lower empirical quantiles over the
// survivors of this generation batch (one sort), the inclusive keep rule; kept groups join the pending
// batch in arrival order; when it holds B, exactly the first B are emitted and the rest are dropped.
import { resolveBatchConfig, type BatchSamplerConfig } from "./config.js";
import { GenRoundsExceededError, InvalidSnapshotError } from "./errors.js";
import { accuracyOf, meanLength, plainGroup, validateGroup, type Group } from "./group.js";
import { decision, zeroCounts, type Decision, type Outcome, type OutcomeCounts } from "./outcomes.js";
import { PendingBatch, type PendingState, type TrainingBatch } from "./pending.js";
import { judgeLength, quantileOfSorted, thresholdsOfSorted, type Thresholds } from "./quantile.js";
import { readConfig, readCount, readCounts, readHeader, readPending, readSeen, readThresholds, SNAPSHOT_VERSION } from "./snapshot.js";
import { countTotals, type SamplerStats } from "./stats.js";
import { UidSet } from "./uid-set.js";

export const BATCH_SNAPSHOT_FORMAT = "lspo-batch-sampler";

/** What one generation batch did. */
export interface GenerationRound {
  /** One per offered group, in order. */
  readonly decisions: Decision[];
  /** Quantiles over this generation batch's survivors; null when none survived. */
  readonly thresholds: Thresholds | null;
  /** The training batch this round completed, if any (at most one: the overflow is dropped). */
  readonly batch: TrainingBatch | null;
}

/** The whole batch-mode state as one plain JSON value. */
export interface BatchSamplerSnapshot extends PendingState {
  readonly format: typeof BATCH_SNAPSHOT_FORMAT;
  readonly version: number;
  readonly config: BatchSamplerConfig;
  readonly genRounds: number;
  readonly thresholds: Thresholds | null;
  readonly seen: string[];
  readonly counts: OutcomeCounts;
  /** quantileScope "window": survivors' lengths of the rounds since the last emitted batch. */
  readonly accumulated?: number[];
}

interface BatchState {
  pending: PendingState;
  genRounds: number;
  thresholds: Thresholds | null;
  seen: UidSet;
  counts: OutcomeCounts;
  accumulated: number[];
}

export class BatchSampler {
  readonly config: BatchSamplerConfig;
  private readonly pending: PendingBatch;
  private readonly seen: UidSet;
  private readonly counts: OutcomeCounts;
  private genRounds: number; // since the last emitted batch
  private last: Thresholds | null;
  /** quantileScope "window": survivors' lengths of every round since the last emitted batch. */
  private accumulated: number[];

  constructor(config: unknown, state?: BatchState) {
    this.config = resolveBatchConfig(config);
    this.pending = new PendingBatch(this.config.batchSize, state?.pending);
    this.seen = state?.seen ?? new UidSet();
    this.counts = state?.counts ?? zeroCounts();
    this.genRounds = state?.genRounds ?? 0;
    this.last = state?.thresholds ?? null;
    this.accumulated = state?.accumulated ?? [];
  }

  /**
   * Judges one generation batch and appends its kept groups. Every group is validated before any state
   * changes. Throws GenRoundsExceededError when `maxGenRounds` rounds in a row have not filled a batch
   * (the round's effects are kept; each further unfilled round throws again).
   */
  addGenerationBatch(groups: readonly Group[]): GenerationRound {
    groups.forEach((g, i) => validateGroup(g, `generation batch item ${i}`));
    const { config } = this;
    const lengths = groups.map(meanLength);
    const outcomes: (Outcome | null)[] = groups.map((g) => {
      if (!this.seen.add(g.uid)) return "duplicate";
      const acc = accuracyOf(g, config.correctAbove);
      return acc === "mixed" || !config.accuracyFilter ? null : acc; // null: a survivor, judged below
    });
    const survivors = lengths.filter((_, i) => outcomes[i] === null);
    if (config.quantileScope === "window") this.accumulated.push(...survivors);
    const sorted = Float64Array.from(config.quantileScope === "window" ? this.accumulated : survivors).sort();
    const thresholds = sorted.length > 0 ? thresholdsOfSorted(sorted, config) : null;
    const Q = (a: number): number => quantileOfSorted(sorted, a);
    const decisions = groups.map((g, i) => {
      const outcome = outcomes[i] ?? (config.lengthFilter ? judgeLength(lengths[i], config, Q, config.boundInclusive) : "unfiltered");
      this.counts[outcome]++;
      return decision(g, outcome, lengths[i]);
    });
    const kept = groups.filter((_, i) => decisions[i].kept);
    this.last = thresholds;
    this.genRounds++;
    const [batch = null] = this.pending.append(kept, "discard", () => thresholds);
    if (batch !== null) {
      this.genRounds = 0;
      this.accumulated = [];
    }
    else if (config.maxGenRounds > 0 && this.genRounds >= config.maxGenRounds) {
      throw new GenRoundsExceededError(this.genRounds, this.pending.groups.length, config.batchSize, config.maxGenRounds);
    }
    return { decisions, thresholds, batch };
  }

  stats(): SamplerStats {
    return {
      ...countTotals(this.counts),
      outcomes: { ...this.counts },
      smoothedAcceptance: null,
      thresholds: this.last,
      batchesEmitted: this.pending.nextIndex,
      groupsEmitted: this.pending.groupsEmitted,
      discardedOverflow: this.pending.discarded,
      pending: this.pending.groups.length,
      window: null,
      genRounds: this.genRounds,
    };
  }

  /** The state; `omitSeen` leaves the seen uids out (an empty list) for a caller that persists them apart. */
  snapshot(opts: { omitSeen?: boolean } = {}): BatchSamplerSnapshot {
    const p = this.pending.state();
    return {
      format: BATCH_SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      config: { ...this.config },
      ...p,
      pending: p.pending.map(plainGroup),
      genRounds: this.genRounds,
      thresholds: this.last === null ? null : { ...this.last },
      seen: opts.omitSeen ? [] : this.seen.values(),
      counts: { ...this.counts },
      accumulated: [...this.accumulated],
    };
  }
}

export function createBatchSampler(config: unknown): BatchSampler {
  return new BatchSampler(config);
}

/** Rebuilds a batch sampler from `snapshot()` output (possibly through JSON); checks every part. */
/** `accumulated` of a snapshot: absent in snapshots from before quantileScope (then empty). */
function readLengths(v: unknown): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0)) {
    throw new InvalidSnapshotError("accumulated", `snapshot: accumulated must be an array of lengths >= 0, got ${JSON.stringify(v).slice(0, 80)}`);
  }
  return [...v];
}

export function restoreBatchSampler(snapshot: unknown): BatchSampler {
  const s = readHeader(snapshot, BATCH_SNAPSHOT_FORMAT);
  const config = readConfig(s.config, resolveBatchConfig);
  const seen = readSeen(s.seen, "seen");
  return new BatchSampler(config, {
    pending: readPending(s, config.batchSize, seen),
    genRounds: readCount(s.genRounds, "genRounds"),
    thresholds: readThresholds(s.thresholds, "thresholds"),
    seen,
    counts: readCounts(s.counts, "counts"),
    accumulated: readLengths(s.accumulated),
  });
}
