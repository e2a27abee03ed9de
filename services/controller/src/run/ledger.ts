// The run's ledger by prompt uid: every requested uid must reach exactly one terminal state, trained at a
// step or dropped with a reason. It is built only from what arrived over NATS (the controller's own
// `requested`/`cancelled` records, the sampler's judgements and batches, the learner's per-batch records,
// dead letters), so it is the same on any host and can be rebuilt on resume by replaying the run's events.
//
// Trained twice, precisely. The learner reports every batch it consumes: {incarnation, batchSeq, step,
// trained uids, stale uids}. A learner that crashes restarts from its last checkpoint (which records the
// batch sequence it had reached, b) and replays the batches after b; it announces this with a `restore`
// record {incarnation, batchSeq: b}. The updates the old incarnation made after b are not in the model any
// more (its weights were thrown away), so on `restore` every record with batchSeq > b is removed from the
// history, and records that still arrive from a superseded incarnation (a frozen process waking up) are
// ignored. What remains is the one history that reaches the final step. A uid is a DUPLICATE when it is
// trained in two records of that surviving history; a uid trained after a checkpoint and trained again on
// replay is not (the model kept only the second update).
//
// The sampler's latest judgement of a uid wins: a sampler killed after it reported a judgement and before
// its snapshot held it judges the redelivered group again from its older state, possibly otherwise (kept,
// then stale once the learner moved on), and its counts and batches follow the second judgement. A
// cancellation at wind-down (the prompt was still in the prompts stream) ends only a uid nobody judged: a
// NATS server that crashed can bring back a prompt whose ack it had not yet persisted.
export const KEPT_OUTCOMES = new Set(["short", "long", "unfiltered", "warm-up-kept", "gathering", "judged"]);

/** How a sampler outcome reads as a drop reason (the rest keep their library names: all-correct, ...). */
const SAMPLER_REASON: Record<string, string> = { stale: "stale-at-sampler" };

export interface LearnerBatchRecord {
  incarnation: string;
  batchSeq: number;
  /** The learner's step after this batch (unchanged when every group was stale). */
  step: number;
  trained: string[];
  stale: string[];
}

export interface LedgerReport {
  requested: number;
  trained: number;
  dropped: Record<string, number>;
  lost: number;
  duplicates: number;
  /** Up to `cap` of each, for debugging. */
  lostUids: string[];
  duplicateUids: string[];
}

export class Ledger {
  private readonly requested = new Set<string>();
  /** Terminal drops reported by the sampler away from a judgement, or a dead letter: first reason wins. */
  private readonly drops = new Map<string, string>();
  /** The sampler's latest judgement of each uid (a kept outcome, or the library's drop reason). */
  private readonly judgement = new Map<string, string>();
  /** Prompts cancelled at wind-down: a terminal state only for a uid without any other. */
  private readonly cancelled = new Set<string>();
  /** uid -> the batch index the sampler put it in. */
  private readonly inBatch = new Map<string, number>();
  /** The surviving learner history, by batch sequence. */
  private readonly history = new Map<number, LearnerBatchRecord>();
  private readonly superseded = new Set<string>();
  private readonly incarnations: string[] = [];

  request(uids: Iterable<string>): void {
    for (const u of uids) this.requested.add(u);
  }

  /** One judgement by the sampler; "duplicate" is a redelivery of a uid already judged, not a state. */
  judged(uid: string, outcome: string): void {
    if (outcome === "duplicate") return;
    this.judgement.set(uid, outcome);
  }

  drop(uids: Iterable<string>, reason: string): void {
    if (reason === "cancelled") {
      for (const u of uids) this.cancelled.add(u);
      return;
    }
    for (const u of uids) if (!this.drops.has(u)) this.drops.set(u, reason);
  }

  batch(index: number, uids: Iterable<string>): void {
    for (const u of uids) this.inBatch.set(u, index);
  }

  /** A learner incarnation started from the checkpoint at `batchSeq` (0: from the base model). */
  restore(incarnation: string, batchSeq: number): void {
    for (const i of this.incarnations) if (i !== incarnation) this.superseded.add(i);
    if (!this.incarnations.includes(incarnation)) this.incarnations.push(incarnation);
    for (const seq of [...this.history.keys()]) if (seq > batchSeq) this.history.delete(seq);
  }

  learner(r: LearnerBatchRecord): void {
    if (this.superseded.has(r.incarnation)) return;
    if (!this.incarnations.includes(r.incarnation)) this.incarnations.push(r.incarnation);
    this.history.set(r.batchSeq, r);
  }

  /** uid -> the steps it was trained at, in the surviving history. */
  private trainedSteps(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    for (const r of [...this.history.values()].sort((a, b) => a.batchSeq - b.batchSeq)) {
      for (const u of r.trained) {
        const steps = out.get(u);
        if (steps) steps.push(r.step);
        else out.set(u, [r.step]);
      }
    }
    return out;
  }

  /** Every requested uid's terminal state: `trained@<step>`, a drop reason, or null (none: lost). */
  stateOf(uid: string, trained = this.trainedSteps(), staleAtLearner = this.staleAtLearner()): string | null {
    const steps = trained.get(uid);
    if (steps) return `trained@${steps[0]}`;
    if (staleAtLearner.has(uid)) return "stale-at-learner";
    const judged = this.judgement.get(uid);
    if (judged !== undefined && !KEPT_OUTCOMES.has(judged)) return SAMPLER_REASON[judged] ?? judged;
    const d = this.drops.get(uid);
    if (d) return d;
    // In a batch the learner never trained (past run.steps, or dropped with its batch).
    if (this.inBatch.has(uid)) return "unused";
    if (judged === undefined && this.cancelled.has(uid)) return "cancelled";
    return null;
  }

  private staleAtLearner(): Set<string> {
    const s = new Set<string>();
    for (const r of this.history.values()) for (const u of r.stale) s.add(u);
    return s;
  }

  report(cap = 50): LedgerReport {
    const trained = this.trainedSteps();
    const stale = this.staleAtLearner();
    const dropped: Record<string, number> = {};
    const lost: string[] = [];
    let nTrained = 0;
    for (const u of this.requested) {
      const state = this.stateOf(u, trained, stale);
      if (state === null) lost.push(u);
      else if (state.startsWith("trained@")) nTrained++;
      else dropped[state] = (dropped[state] ?? 0) + 1;
    }
    const dups = [...trained].filter(([, steps]) => steps.length > 1).map(([u]) => u);
    return {
      requested: this.requested.size,
      trained: nTrained,
      dropped,
      lost: lost.length,
      duplicates: dups.length,
      lostUids: lost.slice(0, cap),
      duplicateUids: dups.slice(0, cap),
    };
  }
}

export interface JudgementRecord {
  uid: string;
  /** The group's mean response length (tokens). */
  length: number;
  outcome: string;
}

/**
 * The judgements a `judged` event carries: a list (`judgements`, the sampler groups consecutive ones into one
 * event) or, from earlier samplers, one (`uid`, `length`, `outcome`). Malformed entries are skipped.
 */
export function judgementsOf(body: Record<string, unknown>): JudgementRecord[] {
  const list = Array.isArray(body.judgements) ? body.judgements : [body];
  const out: JudgementRecord[] = [];
  for (const j of list as Array<Record<string, unknown>>) {
    if (typeof j !== "object" || j === null || typeof j.uid !== "string" || typeof j.outcome !== "string") continue;
    out.push({ uid: j.uid, length: Number(j.length), outcome: j.outcome });
  }
  return out;
}

/** Feeds one run event (from NATS or the controller's local copy) into the ledger; false if not a ledger fact. */
export function applyEvent(ledger: Ledger, kind: string, body: Record<string, unknown>): boolean {
  const uids = Array.isArray(body.uids) ? body.uids.filter((u): u is string => typeof u === "string") : [];
  if (kind === "judged") {
    const judged = judgementsOf(body);
    for (const j of judged) ledger.judged(j.uid, j.outcome);
    return judged.length > 0;
  }
  if (kind !== "ledger") return false;
  switch (body.type) {
    case "requested":
      ledger.request(uids);
      return true;
    case "dropped":
      ledger.drop(uids, String(body.reason ?? "unknown"));
      return true;
    case "batch":
      ledger.batch(Number(body.index), uids);
      return true;
    case "restore":
      ledger.restore(String(body.incarnation), Number(body.batchSeq ?? 0));
      return true;
    case "learner":
      ledger.learner({
        incarnation: String(body.incarnation),
        batchSeq: Number(body.batchSeq),
        step: Number(body.step),
        trained: Array.isArray(body.trained) ? body.trained.map(String) : [],
        stale: Array.isArray(body.stale) ? body.stale.map(String) : [],
      });
      return true;
    default:
      return false;
  }
}
