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
import { STREAMS, decodeEnvelope, encodeEnvelope, nextOnSubject, publishEvent, publishMessage, putBlob, type RunEvent, type openObjectStore } from "@lspo/bus";
import type { ServiceContext } from "@lspo/actors";
import type { TrainingBatch } from "@lspo/proto";
import type { EmittedBatch } from "./core.js";

/** The judgement of one group, the message at stream sequence `seq` (its id is the same in a replay). */
export function judgedEvent(uid: string, length: number, outcome: string, seq: number): { event: "judged"; body: RunEvent; msgId: string } {
  return { event: "judged", body: { uid, length, outcome }, msgId: `judged-${uid}-${seq}` };
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

  constructor(
    private readonly ctx: ServiceContext,
    private readonly store: Awaited<ReturnType<typeof openObjectStore>>,
    private readonly log: Log,
  ) {}

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
  async publish(b: EmittedBatch): Promise<void> {
    const uids = b.groups.map((g) => g.group!.uid);
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
    const batch: TrainingBatch = {
      batchIndex: BigInt(b.index),
      groups: b.groups,
      thresholds: b.thresholds ? { low: b.thresholds.low, high: b.thresholds.high, max: b.thresholds.max, windowFill: 0 } : undefined,
      objectRef: "",
    };
    let body = batch;
    // A batch that would not fit the server's max payload (with room for headers) travels by reference,
    // under a name that carries its digest (so the message on the stream names its content).
    const inlineLimit = Math.floor((this.ctx.nc.info?.max_payload ?? 1024 * 1024) * 0.9);
    const encoded = encodeEnvelope("TrainingBatch", batch);
    if (encoded.byteLength > inlineLimit) {
      const ref = `batch-${this.ctx.runId}-${b.index}-${digest}`;
      await putBlob(this.store, ref, encoded);
      body = { ...batch, groups: [], objectRef: ref };
    }
    const ack = await publishMessage(this.ctx.js, this.ctx.subjects.batches, "TrainingBatch", body, { msgId: `batch-${this.ctx.runId}-${b.index}` });
    if (ack.duplicate) {
      // Inside the duplicate window the server kept the first one: it must be this very batch.
      const m = await this.ctx.jsm.streams.getMessage(STREAMS.batches.name, { seq: ack.seq });
      if (!m) throw new Error(`training batch ${b.index}: the stream acked it as a duplicate of sequence ${ack.seq}, which it no longer holds`);
      this.check(b.index, digestOnStream(decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch), digest);
    }
    this.lastSeq = Math.max(this.lastSeq, ack.seq);
    this.log(ack.duplicate ? "training batch was already published (a replay inside the duplicate window)" : "published training batch", {
      batch: b.index, groups: b.groups.length, thresholds: b.thresholds, byReference: body.objectRef !== "",
    });
  }

  private check(index: number, onStream: string, replayed: string): void {
    if (onStream !== replayed) {
      throw new Error(`training batch ${index} is on the stream with other content (digest ${onStream}) than the sampler emits now (${replayed}): the replay after a restart was not deterministic; refusing to publish a second batch under one index`);
    }
  }
}

/** The digest of a batch as published: from its groups, or from its object name when it went by reference. */
function digestOnStream(b: TrainingBatch): string {
  if (b.objectRef) return b.objectRef.slice(b.objectRef.lastIndexOf("-") + 1);
  return batchDigest(b.groups.map((g) => g.group!.uid));
}
