// The sampler service's state, without I/O: the LSPO sampler core (stream or batch mode) plus what the
// service adds around it: the kept groups' summaries and stream sequences until their batch is emitted
// (the bodies stay on LSPO_VERIFIED; a batch names them), the staleness rule
// (`maxOffPolicySteps`), batch mode's generation-batch buffer, and the accounting for summary.json.
//
// Every decision is a function of this state and the group offered, nothing else (no clock, no learner
// version read from outside): a restarted sampler that restores a snapshot and is offered the same groups
// in the same order makes the same decisions and emits the same batches (durable.ts, main.ts).
import {
  GenRoundsExceededError, UidSet, createBatchSampler, createStreamSampler, restoreBatchSampler, restoreStreamSampler,
  type BatchSampler, type Group, type SamplerStats, type StreamSampler, type Thresholds,
} from "@lspo/lspo";
import type { GroupRef, GroupSummary, SamplerConfig as ProtoSamplerConfig } from "@lspo/proto";
import type { RunConfig } from "@lspo/config";

export type SamplerSettings = RunConfig["sampler"];

/** A group the sampler holds: what it was judged by, and where its body is (its LSPO_VERIFIED sequence). */
export interface HeldGroup {
  summary: GroupSummary;
  seq: number;
}

export interface EmittedBatch {
  index: number;
  /** The kept groups, by uid and LSPO_VERIFIED sequence. */
  groups: GroupRef[];
  thresholds: Thresholds | null;
}

/**
 * The stream-mode window as an append log (durable.ts persists only the slots pushed since its last save).
 * `epoch` changes whenever the library sampler is replaced (UpdateConfig, the run's close), which starts a
 * new log.
 */
export interface WindowLog {
  epoch: number;
  capacity: number;
  slots: number;
  pushes: number;
  newest(n: number): Float64Array;
}

export interface OfferResult {
  outcome: string;
  batches: EmittedBatch[];
}

export interface CoreSnapshot {
  settings: SamplerSettings;
  maxOffPolicySteps: number;
  sampler: unknown;
  /** Groups kept and waiting for a batch, and (batch mode) the generation batch being gathered. */
  held: HeldGroup[];
  round: string[];
  stale: number;
  unused: number;
  received: number;
  /**
   * Every uid that reached the sampler. Persisted apart (durable.ts appends only the new ones to a segment
   * per snapshot), so a snapshot's size does not grow with the run; present here only in older snapshots.
   */
  seen?: string[];
  duplicates?: number;
  /** The newest policy version any group offered so far was sampled with: the staleness reference. */
  newestPolicy?: number;
  /** The highest stream sequence judged (0: none). */
  lastSeq?: number;
  retired?: RetiredCounts;
  /** Set once the run cannot go on (absent: none); persisted so a restart does not replay into it again. */
  failure?: SamplerFailure | null;
}

/** Why the sampler stopped judging: the run must end, once, with this message. */
export interface SamplerFailure {
  name: string;
  message: string;
  genRounds: number;
  pending: number;
  batchSize: number;
  maxGenRounds: number;
}

/** What library samplers replaced by UpdateConfig had counted (see SamplerCore.retired). */
export interface RetiredCounts {
  offered: number;
  duplicates: number;
  accepted: number;
  rejected: number;
  outcomes: Record<string, number>;
  batchesEmitted: number;
  groupsEmitted: number;
  discardedOverflow: number;
}

const NOTHING_RETIRED: RetiredCounts = { offered: 0, duplicates: 0, accepted: 0, rejected: 0, outcomes: {}, batchesEmitted: 0, groupsEmitted: 0, discardedOverflow: 0 };

export function asGroup(s: GroupSummary): Group {
  return { uid: s.uid, lengths: [...s.lengths], rewards: [...s.rewards], correct: [...s.correct] };
}

function coreConfig(s: SamplerSettings) {
  const filter = {
    batchSize: s.batchSize, lLow: s.lLow, lHigh: s.lHigh, lMax: s.lMax, lengthFilter: s.lengthFilter, accuracyFilter: s.accuracyFilter,
    boundInclusive: s.boundInclusive ?? true,
  };
  return s.mode === "batch"
    ? { ...filter, maxGenRounds: s.maxGenRounds ?? 10, quantileScope: s.quantileScope ?? "batch" }
    : { ...filter, window: s.window, warmup: s.warmup, refill: s.maxInFlight > 0 ? { maxInFlight: s.maxInFlight } : {} };
}

export class SamplerCore {
  private sampler: StreamSampler | BatchSampler;
  private readonly held = new Map<string, HeldGroup>();
  private round: string[] = [];
  private stale = 0;
  private unused = 0;
  /** Distinct groups that reached the sampler (stale ones included, duplicates not): the accounting's base. */
  private received = 0;
  /**
   * Every uid received, checked before anything else: a redelivered or late group must be a duplicate even
   * when it has gone stale meanwhile (the library's dedupe never sees stale groups) or arrives after
   * UpdateConfig replaced the library sampler (and its dedupe set).
   */
  private seen = new UidSet();
  private duplicates = 0;
  /**
   * Staleness is judged against the newest policy version seen in the input, a lower bound of the
   * learner's version, not against the learner's version read at that moment: that read made a decision
   * depend on timing, so a replay after a crash could judge otherwise. The learner drops, at training
   * time, what is stale by its own version; the sampler drops early only what it can prove stale.
   */
  private newestPolicy = 0;
  private lastSeq = 0;
  /**
   * Counts of the library samplers UpdateConfig replaced, added to the current one's: batch indices keep
   * increasing (a restarted index would reuse a published batch's message id, and JetStream would drop the
   * new batch as a duplicate: its groups lost) and summary.json keeps every judgement made before.
   */
  private retired: RetiredCounts = structuredClone(NOTHING_RETIRED);
  /**
   * GenRoundsExceededError, caught: thrown out of the consume loop it crashed the sampler, the unacked group
   * was redelivered after the restart and threw again, until the agent gave up. Now it is recorded (and
   * persisted with the snapshot), every later group is acked as "failed", and the run ends once on it.
   */
  private failed: SamplerFailure | null = null;
  /**
   * Groups dropped other than as the offered group's own outcome (batch mode's rejected and overflow groups,
   * the pending groups at close or at UpdateConfig), for the ledger: the service publishes and clears them
   * (takeDropped) before it persists the snapshot, so a crash in between re-decides and re-reports them.
   */
  private dropped: Array<{ uid: string; reason: string }> = [];
  /** Bumped each time `sampler` is replaced (see WindowLog). */
  private epoch = 0;

  constructor(
    private settings: SamplerSettings,
    private readonly maxOffPolicySteps: number,
    snapshot?: CoreSnapshot,
    /** The uids persisted apart from the snapshot (durable.ts); an older snapshot carries its own. */
    uids: readonly string[] = snapshot?.seen ?? [],
  ) {
    if (snapshot) {
      this.settings = snapshot.settings;
      // The library's own dedupe set is not persisted: every uid it saw is in the service's set, which is
      // checked first, so restoring it as the service's set decides every later offer the same way.
      const library = { ...(snapshot.sampler as Record<string, unknown>), seen: uids };
      this.sampler = snapshot.settings.mode === "batch" ? restoreBatchSampler(library) : restoreStreamSampler(library);
      if (!snapshot.held) {
        throw new Error("sampler snapshot holds verified groups' payloads (written before batches named groups by reference): finish or restart that run with the version that wrote it");
      }
      for (const h of snapshot.held) this.held.set(h.summary.uid, h);
      this.round = [...snapshot.round];
      this.stale = snapshot.stale;
      this.unused = snapshot.unused;
      this.received = snapshot.received ?? 0;
      this.seen = new UidSet(uids);
      this.duplicates = snapshot.duplicates ?? 0;
      this.newestPolicy = snapshot.newestPolicy ?? 0;
      this.lastSeq = snapshot.lastSeq ?? 0;
      this.retired = structuredClone(snapshot.retired ?? NOTHING_RETIRED);
      this.failed = snapshot.failure ?? null;
    } else {
      this.sampler = settings.mode === "batch" ? createBatchSampler(coreConfig(settings)) : createStreamSampler(coreConfig(settings));
    }
  }

  get mode(): "stream" | "batch" {
    return this.settings.mode;
  }

  /** Set when the run cannot go on (GenRoundsExceededError); the service reports it and the run ends. */
  get failure(): SamplerFailure | null {
    return this.failed;
  }

  /** Judges one verified group by its summary, the message at stream sequence `seq` (0 when it came from no stream). */
  offer(summary: GroupSummary, seq = 0): OfferResult {
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (this.failed) return { outcome: "failed", batches: [] };
    if (!this.seen.add(summary.uid)) {
      this.duplicates++;
      return { outcome: "duplicate", batches: [] };
    }
    const result = this.judge({ summary, seq });
    if (result.outcome !== "duplicate") this.received++;
    return result;
  }

  /** Whether `uid` reached the sampler before (judged, or refused as a duplicate of one judged). */
  hasSeen(uid: string): boolean {
    return this.seen.has(uid);
  }

  /** The highest stream sequence judged so far (0: none). */
  get lastJudgedSeq(): number {
    return this.lastSeq;
  }

  /** The highest stream sequence among the groups held for a batch (0: none held). */
  get maxHeldSeq(): number {
    let max = 0;
    for (const h of this.held.values()) max = Math.max(max, h.seq);
    return max;
  }

  /** The uids from the `from`-th on, in the order first seen (durable.ts persists only new ones). */
  uidsFrom(from: number): string[] {
    return this.seen.values(from);
  }

  get uidCount(): number {
    return this.seen.size;
  }

  private judge(held: HeldGroup): OfferResult {
    const uid = held.summary.uid;
    const policy = Number(held.summary.policyVersion);
    if (policy > this.newestPolicy) this.newestPolicy = policy;
    if (policy + this.maxOffPolicySteps < this.newestPolicy) {
      this.stale++;
      return { outcome: "stale", batches: [] };
    }
    if (this.settings.mode === "stream") {
      const offered = (this.sampler as StreamSampler).offer(asGroup(held.summary));
      if (offered.kept) this.held.set(uid, held);
      return { outcome: offered.outcome, batches: offered.batch ? [this.emit(offered.batch)] : [] };
    }
    // Batch mode: gather a generation batch, then judge it as one unit (the paper's rule).
    if (this.held.has(uid) || this.round.includes(uid)) return { outcome: "duplicate", batches: [] };
    this.held.set(uid, held);
    this.round.push(uid);
    if (this.round.length < this.settings.genBatch) return { outcome: "gathering", batches: [] };
    const groups = this.round.map((u) => asGroup(this.held.get(u)!.summary));
    this.round = [];
    let result: ReturnType<BatchSampler["addGenerationBatch"]>;
    try {
      result = (this.sampler as BatchSampler).addGenerationBatch(groups);
    } catch (e) {
      if (!(e instanceof GenRoundsExceededError)) throw e;
      this.failed = {
        name: e.name, message: e.message, genRounds: e.rounds, pending: e.pending, batchSize: e.batchSize, maxGenRounds: e.maxGenRounds,
      };
      return { outcome: "failed", batches: [] };
    }
    for (const d of result.decisions) {
      if (d.kept) continue;
      this.held.delete(d.uid);
      this.dropped.push({ uid: d.uid, reason: d.outcome });
    }
    const batches = result.batch ? [this.emit(result.batch)] : [];
    // Kept beyond B in the round that filled the batch: dropped, as in the paper.
    if (result.batch) {
      for (const d of result.decisions) {
        if (d.kept && !result.batch.uids.includes(d.uid) && this.held.delete(d.uid)) this.dropped.push({ uid: d.uid, reason: "overflow" });
      }
    }
    return { outcome: "judged", batches };
  }

  private emit(batch: { index: number; uids: readonly string[]; thresholds: Thresholds | null }): EmittedBatch {
    const groups = batch.uids.map((u): GroupRef => {
      const held = this.held.get(u);
      if (!held) throw new Error(`sampler: kept group ${u} is not held (state corrupted)`);
      this.held.delete(u);
      return { uid: u, seq: BigInt(held.seq) };
    });
    return { index: this.retired.batchesEmitted + batch.index, groups, thresholds: batch.thresholds };
  }

  refill(inFlight: number): number {
    if (this.settings.mode === "stream") return (this.sampler as StreamSampler).refillRequest(inFlight);
    // Batch mode: keep one generation batch in flight beyond what is being gathered.
    return Math.max(0, this.settings.genBatch - this.round.length - inFlight);
  }

  stats(): SamplerStats & { stale: number; unused: number; gathering: number; received: number } {
    const s = this.sampler.stats();
    const r = this.retired;
    const outcomes = { ...s.outcomes };
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k as keyof typeof outcomes] = (outcomes[k as keyof typeof outcomes] ?? 0) + v;
    const accepted = s.accepted + r.accepted;
    const judged = accepted + s.rejected + r.rejected;
    return {
      ...s,
      offered: s.offered + r.offered,
      duplicates: s.duplicates + r.duplicates + this.duplicates,
      accepted,
      rejected: s.rejected + r.rejected,
      outcomes,
      acceptanceRate: judged === 0 ? null : accepted / judged,
      batchesEmitted: s.batchesEmitted + r.batchesEmitted,
      groupsEmitted: s.groupsEmitted + r.groupsEmitted,
      discardedOverflow: s.discardedOverflow + r.discardedOverflow,
      stale: this.stale,
      unused: this.unused,
      gathering: this.round.length,
      received: this.received,
    };
  }

  /** The run is over: whatever waits for a batch will never be trained (counted, not lost). */
  closeRun(): number {
    const n = this.held.size;
    this.dropPending("unused");
    this.unused += n;
    this.held.clear();
    this.round = [];
    // The core's pending batch goes too (its groups are the held ones just counted), so a resumed run
    // starts a fresh batch instead of completing one whose groups are gone.
    const snap = { ...(this.sampler.snapshot() as unknown as Record<string, unknown>), pending: [] };
    this.sampler = this.settings.mode === "batch" ? restoreBatchSampler(snap) : restoreStreamSampler(snap);
    this.epoch++;
    return n;
  }

  /** New thresholds/batch size/mode: the sampler restarts its judgement with the new settings. */
  updateSettings(next: SamplerSettings): void {
    // Built first: settings the library refuses (InvalidConfigError naming the option) change nothing.
    const fresh = next.mode === "batch" ? createBatchSampler(coreConfig(next)) : createStreamSampler(coreConfig(next));
    const { offered, duplicates, accepted, rejected, outcomes, batchesEmitted, groupsEmitted, discardedOverflow } = this.stats();
    this.retired = { offered, duplicates: duplicates - this.duplicates, accepted, rejected, outcomes: { ...outcomes }, batchesEmitted, groupsEmitted, discardedOverflow };
    this.settings = next;
    this.dropPending("unused-at-config-change");
    this.unused += this.held.size;
    this.held.clear();
    this.round = [];
    this.sampler = fresh;
    this.epoch++;
  }

  private dropPending(reason: string): void {
    for (const uid of new Set([...this.held.keys(), ...this.round])) this.dropped.push({ uid, reason });
  }

  /** The drops since the last call (see `dropped`). */
  takeDropped(): Array<{ uid: string; reason: string }> {
    const out = this.dropped;
    this.dropped = [];
    return out;
  }

  get currentSettings(): SamplerSettings {
    return this.settings;
  }

  /** Stream mode's window as an append log; null in batch mode (its state has no window). */
  windowLog(): WindowLog | null {
    if (this.settings.mode !== "stream") return null;
    const s = this.sampler as StreamSampler;
    return { epoch: this.epoch, capacity: s.config.window, slots: s.windowSlots, pushes: s.windowPushes, newest: (n) => s.windowNewest(n) };
  }

  /**
   * The state, without the uid set (uidsFrom/uidCount: persisted apart) and, with `omitWindow`, without the
   * stream window's slots (windowLog: persisted apart); a restore puts them back (the constructor's `uids`,
   * and `sampler.window`).
   */
  snapshot(omitWindow = false): CoreSnapshot {
    const sampler = this.settings.mode === "stream" ? (this.sampler as StreamSampler).snapshot({ omitSeen: true, omitWindow }) : (this.sampler as BatchSampler).snapshot({ omitSeen: true });
    return {
      settings: this.settings,
      maxOffPolicySteps: this.maxOffPolicySteps,
      sampler: sampler as unknown as Record<string, unknown>,
      held: [...this.held.values()],
      round: [...this.round],
      stale: this.stale,
      unused: this.unused,
      received: this.received,
      duplicates: this.duplicates,
      newestPolicy: this.newestPolicy,
      lastSeq: this.lastSeq,
      retired: structuredClone(this.retired),
      failure: this.failed,
    };
  }
}

export function settingsToProto(s: SamplerSettings): ProtoSamplerConfig {
  return { mode: s.mode === "batch" ? 1 : 2, batchSize: s.batchSize, window: s.window, lLow: s.lLow, lHigh: s.lHigh, lMax: s.lMax, lengthFilter: s.lengthFilter };
}
