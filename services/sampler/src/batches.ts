// What the sampler publishes: the ledger's records of its decisions, and the training batches.
//
// A restarted sampler replays the groups judged since its last snapshot and emits the same records and
// batches again (durable.ts, main.ts). Publishing them twice must therefore be harmless, and must not lean
// on JetStream's duplicate window (a restart can take longer than it):
// - events have ids fixed by what they record, and the ledger's records are idempotent (the latest
//   judgement of a uid, one batch record per index, the first drop reason);
// - a batch is published under its index; the batches published after the last snapshot are read back
//   at startup, and a batch the replay emits again is compared with the one on the stream by content
//   digest: the same content is a no-op, other content is an error (the replay was not deterministic,
//   and the learner must not train two batches under one index). A duplicate ack inside the window is
//   checked the same way.
import { createHash } from "node:crypto";
import { STREAMS, decodeEnvelope, nextOnSubject, publishEvent, publishMessage, type RunEvent } from "@lspo/bus";
import type { ServiceContext } from "@lspo/actors";
import type { TrainingBatch } from "@lspo/proto";
import type { EmittedBatch } from "./core.js";

/** The judgement of one group (the message at stream sequence `seq`): its mean response length and outcome. */
export interface Judgement {
  uid: string;
  length: number;
  outcome: string;
  seq: number;
}

/**
 * The judgements of consecutive messages as one `judged` event: one JetStream publish per group cost the
 * sampler, the server and every reader more than judging the group. The id names the sequences it covers;
 * a replay that groups them otherwise publishes them again under other ids, which readers take as they
 * take any repeat (the latest judgement of a uid counts; a replay's is the same).
 */
export function judgedEvent(judgements: readonly Judgement[]): { event: "judged"; body: RunEvent; msgId: string } {
  const first = judgements[0].seq;
  const last = judgements[judgements.length - 1].seq;
  return {
    event: "judged",
    body: { judgements: judgements.map(({ uid, length, outcome, seq }) => ({ uid, length, outcome, seq })) },
    msgId: `judged-${first}-${last}-${judgements.length}`,
  };
}

/** Groups dropped away from their own judgement (batch mode, the run's close, UpdateConfig), by reason. */
export function droppedEvents(dropped: ReadonlyArray<{ uid: string; reason: string }>): Array<{ event: "ledger"; body: RunEvent; msgId: string }> {
  const byReason = new Map<string, string[]>();
  for (const d of dropped) byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), d.uid]);
  return [...byReason].map(([reason, uids]) => ({ event: "ledger", body: { type: "dropped", reason, uids }, msgId: `sampler-drop-${reason}-${uids[0]}` }));
}

/** A batch's content digest: its uids in order (a group's payload is fixed by its uid). */
export function batchDigest(uids: readonly string[]): string {
  return createHash("sha256").update(uids.join("\n")).digest("hex").slice(0, 32);
}

type Log = (line: string, fields: Record<string, unknown>) => void;

export class BatchPublisher {
  /** Index -> digest of the batches on the stream that the replay may emit again. */
  private readonly onStream = new Map<number, string>();
  /** LSPO_BATCHES' sequence of the last batch this sampler published or found there. */
  lastSeq = 0;
  /** The queued batches' publishing, in order: settles when the last one queued is on the stream. */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private failed = false;

  /** `onFailure` hears the first batch that could not be published (the sampler then restarts: see enqueue). */
  constructor(
    private readonly ctx: ServiceContext,
    private readonly log: Log,
    private readonly onFailure: (err: Error) => void = () => undefined,
  ) {}

  /**
   * Queues `b` to be published after every batch queued before it, and returns at once: the sampler judges
   * on while its batches go out (each is two pub-acked publishes, which held the judging ~5 ms per batch
   * under load). `then` runs once `b` is on the stream. A batch that cannot be published stops the queue
   * (none after it is attempted; `drained` rejects) and is reported to `onFailure`: a bus error is not the
   * fault of the group whose judgement completed the batch, so the sampler restarts, and its replay from the
   * last snapshot emits again, in order, every batch the snapshot does not cover.
   */
  enqueue(b: EmittedBatch, then?: () => void): void {
    this.queued++;
    this.tail = this.tail.then(async () => {
      await this.publish(b);
      this.queued--;
      then?.();
    });
    this.tail.catch((err: Error) => {
      if (this.failed) return;
      this.failed = true;
      this.onFailure(err);
    });
  }

  /** Batches queued and not yet on the stream. */
  get waiting(): number {
    return this.queued;
  }

  /** Resolves once every batch queued so far is on the stream (`lastSeq` then names the last); rejects if one failed. */
  drained(): Promise<void> {
    return this.tail;
  }

  /** Reads the run's batches after stream sequence `afterSeq` (the last snapshot's): what a replay re-emits. */
  async loadPublishedAfter(afterSeq: number): Promise<number> {
    this.lastSeq = afterSeq;
    for (let seq = afterSeq + 1; ; ) {
      const m = await nextOnSubject(this.ctx.jsm, STREAMS.batches.name, this.ctx.subjects.batches, seq);
      if (!m) break;
      const body = decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch;
      this.onStream.set(Number(body.batchIndex), digestOnStream(body));
      this.lastSeq = m.seq;
      seq = m.seq + 1;
    }
    return this.onStream.size;
  }

  /** Publishes the ledger's record of `b`, then `b` (unless the stream holds it already: see the header). */
  private async publish(b: EmittedBatch): Promise<void> {
    const uids = b.groups.map((g) => g.uid);
    const digest = batchDigest(uids);
    const known = this.onStream.get(b.index);
    if (known !== undefined) {
      this.check(b.index, known, digest);
      this.onStream.delete(b.index);
      this.log("training batch already on the stream (replayed): not republished", { batch: b.index });
      return;
    }
    // The ledger hears of a batch before the learner can: its uids are then trained, stale or unused.
    await publishEvent(this.ctx.js, this.ctx.runId, "ledger", { type: "batch", index: b.index, uids }, `sampler-batch-${b.index}`);
    // The groups by reference (uid, LSPO_VERIFIED sequence): a batch is a few hundred bytes whatever the
    // groups' size, and the learner reads the bodies from LSPO_VERIFIED.
    const body: TrainingBatch = {
      batchIndex: BigInt(b.index),
      groups: [],
      groupRefs: b.groups,
      thresholds: b.thresholds ? { low: b.thresholds.low, high: b.thresholds.high, max: b.thresholds.max, windowFill: 0 } : undefined,
      objectRef: "",
    };
    const ack = await publishMessage(this.ctx.js, this.ctx.subjects.batches, "TrainingBatch", body, { msgId: `batch-${this.ctx.runId}-${b.index}` });
    if (ack.duplicate) {
      // Inside the duplicate window the server kept the first one: it must be this very batch.
      const m = await this.ctx.jsm.streams.getMessage(STREAMS.batches.name, { seq: ack.seq });
      if (!m) throw new Error(`training batch ${b.index}: the stream acked it as a duplicate of sequence ${ack.seq}, which it no longer holds`);
      this.check(b.index, digestOnStream(decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch), digest);
    }
    this.lastSeq = Math.max(this.lastSeq, ack.seq);
    this.log(ack.duplicate ? "training batch was already published (a replay inside the duplicate window)" : "published training batch", {
      batch: b.index, groups: b.groups.length, thresholds: b.thresholds,
    });
  }

  private check(index: number, onStream: string, replayed: string): void {
    if (onStream !== replayed) {
      throw new Error(`training batch ${index} is on the stream with other content (digest ${onStream}) than the sampler emits now (${replayed}): the replay after a restart was not deterministic; refusing to publish a second batch under one index`);
    }
  }
}

/**
 * The digest of a batch as published: from its group references, or (a batch an earlier version published)
 * its inline groups or the digest in its object name.
 */
function digestOnStream(b: TrainingBatch): string {
  if (b.groupRefs?.length) return batchDigest(b.groupRefs.map((g) => g.uid));
  if (b.objectRef) return b.objectRef.slice(b.objectRef.lastIndexOf("-") + 1);
  return batchDigest(b.groups.map((g) => g.group!.uid));
}
