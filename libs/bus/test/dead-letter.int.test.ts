// A refused payload is dead-lettered once and never comes back: after its ack wait has passed, the consumer
// holds nothing pending and nothing is redelivered. (On nats-server 2.9, `+TERM <reason>` is not parsed: a
// term with a reason left the message pending and it was refused again after every ack wait.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, consume, deadLetterSubject, decodeEnvelope, ensureConsumer, jetstream, jetstreamManager, startLocalBus, subjectFor,
  type DeadLetter, type LocalBus,
} from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

describe("bus - dead letters", () => {
  it("refuses a malformed payload exactly once, with its reason, and never redelivers it", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("rollouts", "dlq-once");
    await ensureConsumer(jsm, STREAMS.rollouts.name, "verifier-dlq-once", { filterSubject: subject, ackWaitMs: 500 });
    const ack = await js.publish(subject, new Uint8Array([0xc1, 0xff, 0x00]));
    const reasons: string[] = [];
    const sub = await consume(js, { stream: STREAMS.rollouts.name, durable: "verifier-dlq-once", kind: "RolloutGroup", onReject: (r) => reasons.push(r) });
    const it = sub[Symbol.asyncIterator]();
    void it.next(); // pull; nothing valid will ever arrive
    await new Promise((r) => setTimeout(r, 2000)); // four ack waits
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/not valid msgpack/);
    const info = await jsm.consumers.info(STREAMS.rollouts.name, "verifier-dlq-once");
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_redelivered).toBe(0);
    const letter = await jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: deadLetterSubject(STREAMS.rollouts.name) });
    const body = decodeEnvelope(letter!.data, "DeadLetter").body as DeadLetter;
    expect(body).toMatchObject({ stream: STREAMS.rollouts.name, subject, seq: ack.seq, kind: "RolloutGroup", failure: "truncated" });
    expect(Array.from(body.payload)).toEqual([0xc1, 0xff, 0x00]);
    await sub.stop();
  });
});
