// The sampler's outbox: what one decision owes the bus (its ledger records and any batch it completed),
// persisted in the same snapshot as the state that made the decision, and published only after that
// snapshot is written. main.ts says why; this file builds the records and publishes them.
//
// Publishing the same outbox twice is harmless: every record has a fixed message id, so a republish within
// JetStream's duplicate window is dropped by the server, the ledger's records are idempotent beyond it (the
// latest judgement of a uid, one batch record per index, the first drop reason), and a batch is skipped
// when the stream already holds that index or a later one, so a restart longer than the window
// republishes no batch either.
import { STREAMS, decodeEnvelope, encodeEnvelope, publishEvent, publishMessage, putBlob, type RunEvent, type openObjectStore } from "@lspo/bus";
import type { ServiceContext } from "@lspo/actors";
import type { TrainingBatch } from "@lspo/proto";
import type { CoreSnapshot, EmittedBatch } from "./core.js";

export type Outbound =
  | { kind: "event"; event: "judged" | "ledger"; body: RunEvent; msgId: string }
  | { kind: "batch"; batch: EmittedBatch };

/** The sampler's snapshot object: the core, and the outbox of its last decision (absent in older ones). */
export interface PersistedSampler extends CoreSnapshot {
  outbox?: Outbound[];
}

/** The judgement of one delivery of a group. One id per delivery: a redelivery judged again is recorded,
 *  and it can differ only when the first judgement was never published (never persisted). */
export function judgedOwed(uid: string, length: number, outcome: string, seq: number, deliveryCount: number): Outbound {
  return { kind: "event", event: "judged", body: { uid, length, outcome }, msgId: `judged-${uid}-${seq}-${deliveryCount}` };
}

/** The ledger hears of a batch before the learner can: its uids are then trained, stale or unused. */
export function batchOwed(batch: EmittedBatch): Outbound[] {
  return [
    { kind: "event", event: "ledger", body: { type: "batch", index: batch.index, uids: batch.groups.map((g) => g.group!.uid) }, msgId: `sampler-batch-${batch.index}` },
    { kind: "batch", batch },
  ];
}

/** Groups dropped away from their own judgement (batch mode, the run's close, UpdateConfig), by reason. */
export function droppedOwed(dropped: ReadonlyArray<{ uid: string; reason: string }>): Outbound[] {
  const byReason = new Map<string, string[]>();
  for (const d of dropped) byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), d.uid]);
  return [...byReason].map(([reason, uids]) => ({ kind: "event", event: "ledger", body: { type: "dropped", reason, uids }, msgId: `sampler-drop-${reason}-${uids[0]}` }));
}

type Log = (line: string, fields: Record<string, unknown>) => void;

/** Where an outbox goes: the run's streams, and the object store for batches too big to travel inline. */
export interface OutboxTarget {
  ctx: ServiceContext;
  store: Awaited<ReturnType<typeof openObjectStore>>;
  log: Log;
}

/** Publishes an outbox in order. Throws (after publishMessage's own retries) when NATS will not take it:
 *  the caller's state still says it is owed. */
export async function flushOutbox(to: OutboxTarget, outbox: readonly Outbound[]): Promise<void> {
  for (const o of outbox) {
    if (o.kind === "event") await publishEvent(to.ctx.js, to.ctx.runId, o.event, o.body, o.msgId);
    else await publishBatch(to, o.batch);
  }
}

async function publishBatch({ ctx, store, log }: OutboxTarget, b: EmittedBatch): Promise<void> {
  const last = await lastBatchIndex(ctx);
  if (last !== null && last >= b.index) {
    log("training batch already on the stream: not republished", { batch: b.index, lastOnStream: last });
    return;
  }
  const batch: TrainingBatch = {
    batchIndex: BigInt(b.index),
    groups: b.groups,
    thresholds: b.thresholds ? { low: b.thresholds.low, high: b.thresholds.high, max: b.thresholds.max, windowFill: 0 } : undefined,
    objectRef: "",
  };
  let body = batch;
  let byReference = false;
  // A batch that would not fit the server's max payload (with room for headers) travels by reference.
  const inlineLimit = Math.floor((ctx.nc.info?.max_payload ?? 1024 * 1024) * 0.9);
  if (encodeEnvelope("TrainingBatch", batch).byteLength > inlineLimit) {
    const ref = `batch-${ctx.runId}-${b.index}`;
    await putBlob(store, ref, encodeEnvelope("TrainingBatch", batch));
    body = { ...batch, groups: [], objectRef: ref };
    byReference = true;
  }
  const ack = await publishMessage(ctx.js, ctx.subjects.batches, "TrainingBatch", body, { msgId: `batch-${ctx.runId}-${b.index}` });
  // A duplicate here is this very batch: an index is published only from a persisted outbox, whose
  // content never changes, so an earlier flush of it got through before a crash or a lost ack.
  log(ack.duplicate ? "training batch was already published (a republished outbox)" : "published training batch", { batch: b.index, groups: b.groups.length, thresholds: b.thresholds, byReference });
}

/** The highest batch index on the run's batches subject, or null when it holds none. */
async function lastBatchIndex(ctx: ServiceContext): Promise<number | null> {
  let m;
  try {
    m = await ctx.jsm.streams.getMessage(STREAMS.batches.name, { last_by_subj: ctx.subjects.batches });
  } catch (err) {
    if (/no message found|not found/i.test((err as Error).message)) return null;
    throw err;
  }
  if (!m) return null;
  return Number((decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch).batchIndex);
}
