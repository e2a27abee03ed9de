// Streaming mode (this project's extension): groups arrive one by one; a sliding window of the last W
// slots holds per-prompt mean lengths, indexed for O(log) insert, evict and quantile, and each group is
// judged on arrival against the window's quantiles, with the paper's inclusive rule.
//
// A group's own length enters the window BEFORE it is judged, so a group always meets a window that
// contains it (never an empty one), exactly as in batch mode, where a group's length is part of the
// sample its generation batch's quantiles are taken over. `offerGenerationBatch` pushes a whole batch's
// lengths first and then judges every member, which is what makes the two modes agree (README).
import { resolveStreamConfig, type StreamSamplerConfig } from "./config.js";
import { InvalidSnapshotError } from "./errors.js";
import { accuracyOf, meanLength, plainGroup, validateGroup, type Group } from "./group.js";
import { OUTCOMES, zeroCounts, type Decision, type Outcome, type OutcomeCounts } from "./outcomes.js";
import { PendingBatch, type PendingState, type TrainingBatch } from "./pending.js";
import { judgeLength, type Thresholds } from "./quantile.js";
import { RefillController, type RefillState } from "./refill.js";
import { readConfig, readArray, readCounts, readHeader, readNumber, readObject, readPending, readSeen, readSlot, SNAPSHOT_VERSION } from "./snapshot.js";
import { countTotals, type SamplerStats } from "./stats.js";
import { UidSet } from "./uid-set.js";
import { LengthWindow } from "./window.js";

export const STREAM_SNAPSHOT_FORMAT = "lspo-stream-sampler";

/** A decision, and the training batch it completed (null mostly). */
export interface Offered extends Decision {
  readonly batch: TrainingBatch | null;
}

/** The whole stream-mode state as one plain JSON value. The index over the window is rebuilt on restore. */
export interface StreamSamplerSnapshot extends PendingState {
  readonly format: typeof STREAM_SNAPSHOT_FORMAT;
  readonly version: number;
  readonly config: StreamSamplerConfig;
  /** Window slots, oldest first; null is an arrival without a length (windowCounts: "arrivals"). */
  readonly window: (number | null)[];
  readonly seen: string[];
  readonly counts: OutcomeCounts;
  readonly refill: RefillState;
}

interface StreamState {
  window: number[];
  pending: PendingState;
  seen: UidSet;
  counts: OutcomeCounts;
  refill: RefillState;
}

/** A group's name in messages; called only when a message is built (the offer path is hot). */
function groupContext(g: unknown): string {
  const uid = (g as { uid?: unknown } | null)?.uid;
  return typeof uid === "string" ? `group ${JSON.stringify(uid)}` : "group";
}

export class StreamSampler {
  readonly config: StreamSamplerConfig;
  private readonly window: LengthWindow;
  private readonly pending: PendingBatch;
  private readonly seen: UidSet;
  private readonly counts: OutcomeCounts;
  private readonly refill: RefillController;
  private readonly arrivals: boolean;
  private readonly Q = (a: number): number => this.window.quantile(a);
  private readonly currentThresholds = (): Thresholds | null => this.window.thresholds(this.config);

  constructor(config: unknown, state?: StreamState) {
    this.config = resolveStreamConfig(config);
    this.arrivals = this.config.windowCounts === "arrivals";
    this.window = new LengthWindow(this.config.window, this.config.orderStatistics);
    for (const v of state?.window ?? []) this.window.push(v);
    this.pending = new PendingBatch(this.config.batchSize, state?.pending);
    this.seen = state?.seen ?? new UidSet();
    this.counts = state?.counts ?? zeroCounts();
    this.refill = new RefillController(this.config.refill, this.config.batchSize, state?.refill);
  }

  /** Judges one arriving group now; a kept group completing the pending batch emits it. */
  offer(group: Group): Offered {
    validateGroup(group, groupContext);
    const length = meanLength(group);
    const outcome = this.admit(group, length) ?? this.judge(length);
    const kept = this.record(outcome);
    const batch = kept ? this.pending.push(group, this.currentThresholds) : null;
    return { uid: group.uid, kept, outcome, length, batch };
  }

  /**
   * Offers a whole generation batch as one unit: every member's slot enters the window first, then every
   * member is judged against the same window. With W = the generation batch size, windowCounts "arrivals"
   * and overflow "discard", this reproduces batch mode exactly (the README explains why).
   */
  offerGenerationBatch(groups: readonly Group[]): { decisions: Decision[]; batches: TrainingBatch[] } {
    groups.forEach((g, i) => validateGroup(g, () => `generation batch item ${i} (${groupContext(g)})`));
    const lengths = groups.map(meanLength);
    const early = groups.map((g, i) => this.admit(g, lengths[i]));
    const decisions = groups.map((g, i): Decision => {
      const outcome = early[i] ?? this.judge(lengths[i]);
      return { uid: g.uid, kept: this.record(outcome), outcome, length: lengths[i] };
    });
    const kept = groups.filter((_, i) => decisions[i].kept);
    return { decisions, batches: this.pending.append(kept, this.config.overflow, this.currentThresholds) };
  }

  /** Prompts to request now so the batch fills in time; `inFlight` = requested but not yet offered. */
  refillRequest(inFlight: number): number {
    return this.refill.request(this.pending.groups.length, inFlight);
  }

  /** Slots the window holds now (W once full). */
  get windowSlots(): number {
    return this.window.slots;
  }

  /** Slots pushed into the window since this sampler was built (a restored window's slots count). */
  get windowPushes(): number {
    return this.window.pushes;
  }

  /** The window's newest `n` slots, oldest first (NaN: an arrival without a length). */
  windowNewest(n: number): Float64Array {
    return this.window.newest(n);
  }

  /** The window's quantiles now; null while it holds no length. */
  thresholds(): Thresholds | null {
    return this.currentThresholds();
  }

  stats(): SamplerStats {
    return {
      ...countTotals(this.counts),
      outcomes: { ...this.counts },
      smoothedAcceptance: this.refill.rate,
      thresholds: this.currentThresholds(),
      batchesEmitted: this.pending.nextIndex,
      groupsEmitted: this.pending.groupsEmitted,
      discardedOverflow: this.pending.discarded,
      pending: this.pending.groups.length,
      window: { slots: this.window.slots, lengths: this.window.lengths, capacity: this.window.capacity },
      genRounds: null,
    };
  }

  /**
   * The state. `omitWindow` / `omitSeen` leave out (as empty lists) the parts a caller persists apart: the
   * window (see `windowPushes` / `windowNewest`) and the seen uids, the two that are large; restoring such a
   * snapshot needs them put back.
   */
  snapshot(opts: { omitWindow?: boolean; omitSeen?: boolean } = {}): StreamSamplerSnapshot {
    const p = this.pending.state();
    return {
      format: STREAM_SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      config: { ...this.config, refill: { ...this.config.refill } },
      window: opts.omitWindow ? [] : this.window.toJSON(),
      ...p,
      pending: p.pending.map(plainGroup),
      seen: opts.omitSeen ? [] : this.seen.values(),
      counts: { ...this.counts },
      refill: this.refill.state(),
    };
  }

  /**
   * Dedupe and the accuracy filter; a survivor's length enters the window and null is returned (judge
   * it next). In "arrivals" mode every non-survivor still takes a slot, holding no length.
   */
  private admit(g: Group, length: number): Outcome | null {
    let outcome: Outcome | null = null;
    if (!this.seen.add(g.uid)) outcome = "duplicate";
    else {
      const acc = accuracyOf(g, this.config.correctAbove);
      if (acc !== "mixed" && this.config.accuracyFilter) outcome = acc;
    }
    if (outcome === null) this.window.push(length);
    else if (this.arrivals) this.window.push(NaN);
    return outcome;
  }

  /** The length rule for a survivor already in the window, or the warm-up policy while it fills. */
  private judge(length: number): Outcome {
    const c = this.config;
    if (!c.lengthFilter) return "unfiltered";
    if (this.window.slots < c.warmupFill) {
      if (c.warmup === "accept") return "warm-up-kept";
      if (c.warmup === "reject") return "warm-up-rejected";
    }
    return judgeLength(length, c, this.Q, c.boundInclusive);
  }

  private record(outcome: Outcome): boolean {
    this.counts[outcome]++;
    const kept = OUTCOMES[outcome].kept;
    if (outcome !== "duplicate") this.refill.observe(kept);
    return kept;
  }
}

export function createStreamSampler(config: unknown): StreamSampler {
  return new StreamSampler(config);
}

/** Rebuilds a stream sampler from `snapshot()` output (possibly through JSON); checks every part. */
export function restoreStreamSampler(snapshot: unknown): StreamSampler {
  const s = readHeader(snapshot, STREAM_SNAPSHOT_FORMAT);
  const config = readConfig(s.config, resolveStreamConfig);
  const slots = readArray(s.window, "window");
  if (slots.length > config.window) {
    throw new InvalidSnapshotError("window", `snapshot: 'window' holds ${slots.length} slots but config.window is ${config.window}`);
  }
  const window = slots.map((v, i) => readSlot(v, `window[${i}]`, config.windowCounts === "arrivals"));
  const seen = readSeen(s.seen, "seen");
  const refill = readObject(s.refill, "refill");
  return new StreamSampler(config, {
    window,
    pending: readPending(s, config.batchSize, seen),
    seen,
    counts: readCounts(s.counts, "counts"),
    refill: { kept: readNumber(refill.kept, "refill.kept"), seen: readNumber(refill.seen, "refill.seen") },
  });
}
