// The learner's batch reader gives each batch out once, in stream order, even when the server delivers it again
// (batch-reader.ts). A NATS server killed before it wrote its consumer's state does that after a restart; here
// the redelivery is the server's own, made certain by shortening the consumer's ack wait while two batches are
// in hand. Real nats-server, real JetStream consumer.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBJECT_STORES, STREAMS, bytesOf, openObjectStore, publishMessage, startLocalBus, subjectFor, type LocalBus } from "@lspo/bus";
import type { TrainingBatch } from "@lspo/proto";
import { readBatches, type BatchMessage } from "../src/batch-reader.js";

const RUN = "redelivered";
let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

/** A batch of one group of one response, its index `k`. */
function batch(k: number): TrainingBatch {
  return {
    batchIndex: BigInt(k),
    objectRef: "",
    groupRefs: [],
    groups: [{
      group: {
        uid: `u${k}`,
        prompt: { uid: `u${k}`, runId: RUN, task: "t", promptText: "", promptIds: bytesOf(Int32Array.of(5, 6)), answer: "1", groupSize: 1, cursor: BigInt(k) },
        responses: [{ tokenIds: bytesOf(Int32Array.of(7, 8)), logprobs: bytesOf(Float32Array.of(-1, -1)), truncated: false, text: "" }],
        policyVersion: 0n,
        actor: "test",
      },
      rewards: [1],
      correct: [true],
    }],
  };
}

describe("learner batch reader", { timeout: 60_000 }, () => {
  it("gives each batch out once, in stream order: one the server delivers again is acked and skipped", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const publish = (k: number) => publishMessage(js, subjectFor("batches", RUN), "TrainingBatch", batch(k), { msgId: `${RUN}-${k}` });
    for (let k = 1; k <= 2; k++) await publish(k);
    const durable = `learner-${RUN}`;
    const redelivered: number[] = [];
    const reader = readBatches(js, jsm, durable, subjectFor("batches", RUN), 1, await openObjectStore(bus.nc, OBJECT_STORES.batches), () => undefined,
      { maxBytes: 1 << 20, groupMaxBytes: 1 << 20, validate: () => null }, { onRedelivered: (seq) => redelivered.push(seq) });
    const given: BatchMessage[] = [];
    given.push((await reader.next()).value as BatchMessage);
    given.push((await reader.next()).value as BatchMessage);
    // Both in hand, unacked: a 1-s ack wait has the server deliver them again, as a server that forgot it had
    // delivered them would. The reader is asked for its next batch meanwhile, with nothing new on the stream.
    await jsm.consumers.update(STREAMS.batches.name, durable, { ack_wait: nanos(1000) });
    let third: BatchMessage | null = null;
    const asked = reader.next().then((r) => void (third = r.value as BatchMessage));
    const deadline = Date.now() + 20_000;
    while (redelivered.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(new Set(redelivered), "the server's deliveries again, skipped").toEqual(new Set([1, 2]));
    expect(third, "nothing given out for them").toBeNull();
    await publish(3);
    await asked;
    given.push(third!);
    expect(given.map((b) => b.seq)).toEqual([1, 2, 3]);
    expect(given.map((b) => Number(b.batch.batchIndex))).toEqual([1, 2, 3]);
    for (const b of given) b.done();
    await reader.return(undefined);
  });
});
