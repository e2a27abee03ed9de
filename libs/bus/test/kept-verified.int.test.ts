// LSPO_VERIFIED keeps its messages (batches name them by sequence): a stream made by an earlier version as a
// work queue is refused with what to do, and the max-deliveries watcher dead-letters a verified group without
// deleting it (a work queue's message is deleted, as before).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, RetentionPolicy } from "@nats-io/jetstream";
import {
  STREAMS, deadLetterSubject, decodeEnvelope, encodeEnvelope, ensureConsumer, ensureStream, jetstream, jetstreamManager, startLocalBus,
  subjectFor, watchMaxDeliveries, type DeadLetter, type LocalBus,
} from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("bus - the kept verified stream", () => {
  it("refuses to reuse a work-queue LSPO_VERIFIED, saying how to replace it", async () => {
    const jsm = await jetstreamManager(bus.nc);
    await jsm.streams.add({ name: STREAMS.verified.name, subjects: [...STREAMS.verified.subjects], retention: RetentionPolicy.Workqueue });
    await expect(ensureStream(jsm, STREAMS.verified)).rejects.toThrow(/stream LSPO_VERIFIED exists with retention 'workqueue', this version needs 'limits'.*nats stream rm LSPO_VERIFIED/);
    await jsm.streams.delete(STREAMS.verified.name);
    await ensureStream(jsm, STREAMS.verified);
    expect((await jsm.streams.info(STREAMS.verified.name)).config).toMatchObject({ retention: RetentionPolicy.Limits, allow_direct: true });
  });

  it("dead-letters a verified group the server gave up on without deleting it; a work queue's message goes", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    await ensureStream(jsm, STREAMS.verified);
    await ensureStream(jsm, STREAMS.prompts);
    await ensureStream(jsm, STREAMS.deadLetters);
    await ensureStream(jsm, STREAMS.events);
    const cases = [
      { stream: STREAMS.verified.name, subject: subjectFor("verified", "kept"), kept: true },
      { stream: STREAMS.prompts.name, subject: subjectFor("prompts", "kept"), kept: false },
    ];
    const letters: DeadLetter[] = [];
    const watcher = watchMaxDeliveries(bus.nc, js, jsm, "kept", cases.map((c) => ({
      stream: c.stream, durable: `gives-up-${c.stream}`, kind: "Raw", uidsOf: () => ["u"], kept: c.kept,
    })), 100, (l) => letters.push(l));
    const seqs: number[] = [];
    for (const c of cases) {
      await ensureConsumer(jsm, c.stream, `gives-up-${c.stream}`, { filterSubject: c.subject, ackWaitMs: 200, maxDeliver: 2 });
      seqs.push((await js.publish(c.subject, encodeEnvelope("Raw", { n: 1 }))).seq);
      // Taken twice and never acked: the server stops at maxDeliver and announces it.
      const consumer = await js.consumers.get(c.stream, `gives-up-${c.stream}`);
      for (let i = 0; i < 2; i++) expect(await consumer.next({ expires: 2000 })).not.toBeNull();
      // A pull waiting when the second ack wait runs out: the server would deliver a third time, and gives up.
      expect(await consumer.next({ expires: 1000 })).toBeNull();
    }
    for (const until = Date.now() + 10_000; letters.length < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    watcher.stop();
    expect(letters.map((l) => [l.stream, l.failure]).sort()).toEqual([[STREAMS.prompts.name, "max-deliveries"], [STREAMS.verified.name, "max-deliveries"]]);
    expect((await jsm.streams.getMessage(STREAMS.verified.name, { seq: seqs[0] }))?.seq).toBe(seqs[0]);
    await expect(jsm.streams.getMessage(STREAMS.prompts.name, { seq: seqs[1] })).resolves.toBeNull();
    const stored = await jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: deadLetterSubject(STREAMS.verified.name) });
    expect((decodeEnvelope(stored!.data, "DeadLetter").body as DeadLetter).seq).toBe(seqs[0]);
  });

  it("does not dead-letter a kept stream's message acked before the grace period ends", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    await ensureStream(jsm, STREAMS.verified);
    const subject = subjectFor("verified", "late-ack");
    await jsm.consumers.add(STREAMS.verified.name, { durable_name: "late-ack", filter_subject: subject, ack_policy: AckPolicy.Explicit, ack_wait: 200_000_000, max_deliver: 1 });
    const letters: DeadLetter[] = [];
    const watcher = watchMaxDeliveries(bus.nc, js, jsm, "late-ack", [{ stream: STREAMS.verified.name, durable: "late-ack", kind: "Raw", uidsOf: () => [], kept: true }], 1500, (l) => letters.push(l));
    await js.publish(subject, encodeEnvelope("Raw", { n: 2 }));
    const consumer = await js.consumers.get(STREAMS.verified.name, "late-ack");
    const advisories: string[] = [];
    const sub = bus.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${STREAMS.verified.name}.late-ack`, { callback: (_e, a) => void advisories.push(a.string()) });
    const m = await consumer.next({ expires: 2000 });
    // A pull waiting past its ack wait: the server gives up on it (the advisory goes out); then it is acked
    // within the watcher's grace: processed after all.
    expect(await consumer.next({ expires: 1000 })).toBeNull();
    expect(advisories.length).toBeGreaterThan(0);
    expect(await m!.ackAck()).toBe(true);
    await new Promise((r) => setTimeout(r, 2000));
    watcher.stop();
    sub.unsubscribe();
    expect(letters).toEqual([]);
  });
});
