// The sampler's batches go out through a queue (batches.ts, BatchPublisher.enqueue): judging does not wait for
// their pub-acks. On a real nats-server: queued batches land in the order queued, each after its ledger
// record; `drained` settles once all are on the stream (the snapshot then names the last); a batch that
// cannot be published stops the queue (nothing after it is published), rejects `drained` and is reported
// once, so the sampler restarts and its replay emits them again in order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STREAMS, decodeEnvelope, ensureStreams, eventSubject, jetstream, jetstreamManager, nextOnSubject, startLocalBus, subjectFor, type LocalBus } from "@lspo/bus";
import type { ServiceContext } from "@lspo/actors";
import type { RunEvent } from "@lspo/bus";
import type { TrainingBatch } from "@lspo/proto";
import { BatchPublisher } from "../src/batches.js";
import type { EmittedBatch } from "../src/core.js";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
  await ensureStreams(await jetstreamManager(bus.nc));
});
afterAll(() => bus?.stop());

/** What BatchPublisher reads of a service context: the run's id and subjects, and a real JetStream client. */
async function contextFor(runId: string): Promise<ServiceContext> {
  const ctx = { runId, js: jetstream(bus.nc), jsm: await jetstreamManager(bus.nc), subjects: { batches: subjectFor("batches", runId) } };
  return ctx as unknown as ServiceContext;
}

const batch = (index: number, tag = "g"): EmittedBatch => ({
  index,
  groups: [0, 1].map((k) => ({ uid: `${tag}${index}-${k}`, seq: BigInt(100 * index + k + 1) })),
  thresholds: null,
});

/** The run's batches on LSPO_BATCHES, in stream order: index and uids. */
async function batchesOnStream(runId: string): Promise<Array<{ index: number; uids: string[] }>> {
  const jsm = await jetstreamManager(bus.nc);
  const out = [];
  for (let seq = 1; ; ) {
    const m = await nextOnSubject(jsm, STREAMS.batches.name, subjectFor("batches", runId), seq);
    if (!m) return out;
    const b = decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch;
    out.push({ index: Number(b.batchIndex), uids: b.groupRefs.map((r) => r.uid) });
    seq = m.seq + 1;
  }
}

/** The ledger's batch records of the run, in stream order. */
async function ledgerBatches(runId: string): Promise<number[]> {
  const jsm = await jetstreamManager(bus.nc);
  const out: number[] = [];
  for (let seq = 1; ; ) {
    const m = await nextOnSubject(jsm, STREAMS.events.name, eventSubject(runId, "ledger"), seq);
    if (!m) return out;
    const e = decodeEnvelope(m.data, "RunEvent").body as RunEvent & { type?: string; index?: number };
    if (e.type === "batch") out.push(Number(e.index));
    seq = m.seq + 1;
  }
}

describe("the sampler's batch queue", () => {
  it("publishes queued batches in order without the caller waiting, each after its ledger record", async () => {
    const runId = "queue-order";
    const failures: Error[] = [];
    const publisher = new BatchPublisher(await contextFor(runId), () => undefined, (err) => failures.push(err));
    const published: number[] = [];
    for (let i = 0; i < 40; i++) publisher.enqueue(batch(i), () => published.push(i));
    // enqueue returned at once: nothing is acked yet.
    expect(publisher.waiting).toBe(40);
    expect(published).toEqual([]);
    await publisher.drained();
    expect(publisher.waiting).toBe(0);
    expect(published).toEqual([...Array(40).keys()]);
    const onStream = await batchesOnStream(runId);
    expect(onStream.map((b) => b.index)).toEqual([...Array(40).keys()]);
    expect(onStream[7].uids).toEqual(["g7-0", "g7-1"]);
    expect(await ledgerBatches(runId)).toEqual([...Array(40).keys()]);
    // lastSeq names the last batch's stream sequence (what the snapshot records).
    const info = await (await jetstreamManager(bus.nc)).streams.getMessage(STREAMS.batches.name, { seq: publisher.lastSeq });
    expect(Number((decodeEnvelope(info!.data, "TrainingBatch").body as TrainingBatch).batchIndex)).toBe(39);
    expect(failures).toEqual([]);
  });

  it("stops at a batch that cannot be published: nothing after it goes out, drained rejects, one failure reported", async () => {
    const runId = "queue-failure";
    const ctx = await contextFor(runId);
    // Batches 0-2 published by an earlier incarnation; the replay (a new publisher reads them back) emits
    // batch 2 with other groups: the queue must refuse it and publish nothing after it.
    const first = new BatchPublisher(ctx, () => undefined);
    for (let i = 0; i < 3; i++) first.enqueue(batch(i));
    await first.drained();
    const failures: Error[] = [];
    const replay = new BatchPublisher(ctx, () => undefined, (err) => failures.push(err));
    expect(await replay.loadPublishedAfter(0)).toBe(3);
    replay.enqueue(batch(0));
    replay.enqueue(batch(1));
    replay.enqueue(batch(2, "other"));
    replay.enqueue(batch(3));
    replay.enqueue(batch(4));
    await expect(replay.drained()).rejects.toThrow(/training batch 2 is on the stream with other content/);
    expect(failures).toHaveLength(1);
    expect(failures[0].message).toMatch(/training batch 2/);
    expect((await batchesOnStream(runId)).map((b) => b.index)).toEqual([0, 1, 2]);
    expect((await batchesOnStream(runId))[2].uids).toEqual(["g2-0", "g2-1"]);
  });
});
