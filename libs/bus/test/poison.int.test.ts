// A poison message: well-formed, but its processing throws every time. With bus.maxDeliver it is retried
// that many times and then lands in the dead-letter stream with the reason (error text, stream, consumer,
// deliveries, uids), is terminated (never redelivered), and the run's ledger hears of its uids. Real
// nats-server; the "processing" is the test's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, bytesOf, consume, deadLetterSubject, decodeEnvelope, ensureConsumer, ensureStreams, jetstream, jetstreamManager, lastEvent,
  processOrDeadLetter, publishMessage, startLocalBus, streamLimitsOf, subjectFor, type DeadLetter, type LocalBus,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import type { PromptRequest } from "@lspo/proto";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: { limits: streamLimitsOf(resolveConfig({}).bus) } });
});
afterAll(() => bus?.stop());

const prompt = (uid: string): PromptRequest => ({
  uid, runId: "poison", task: "t", promptText: "1+1=", promptIds: bytesOf(Int32Array.from([1, 2])), answer: "2", groupSize: 2, cursor: 0n, requestedAt: new Date(),
});

describe("bus - poison messages", { timeout: 60_000 }, () => {
  it("a message whose processing always throws is dead-lettered after maxDeliver deliveries, with its reason", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const maxDeliver = 3;
    const subject = subjectFor("prompts", "poison");
    await ensureConsumer(jsm, STREAMS.prompts.name, "rollout-poison", { filterSubject: subject, ackWaitMs: 300, maxDeliver });
    await publishMessage(js, subject, "PromptRequest", prompt("bad@0.0"), { msgId: "p-bad" });
    await publishMessage(js, subject, "PromptRequest", prompt("good@0.1"), { msgId: "p-good" });
    const sub = await consume<PromptRequest>(js, { stream: STREAMS.prompts.name, durable: "rollout-poison", kind: "PromptRequest" });
    const seen: Array<[string, number]> = [];
    const done: string[] = [];
    const loop = (async () => {
      for await (const d of sub) {
        seen.push([d.body.uid, d.deliveryCount]);
        try {
          const r = await processOrDeadLetter(d, maxDeliver, async () => {
            if (d.body.uid.startsWith("bad")) throw new Error("tokenizer blew up on this prompt");
          }, (p) => [p.uid]);
          if (r === "done") {
            d.ack();
            done.push(d.body.uid);
          }
        } catch {
          d.nak(50); // what a restarted consumer amounts to: the message comes back
        }
      }
    })();
    const end = Date.now() + 20_000;
    while (Date.now() < end && seen.filter(([u]) => u.startsWith("bad")).length < maxDeliver) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500)); // several ack waits: nothing more may come
    await sub.stop();
    await loop;

    expect(done).toEqual(["good@0.1"]);
    expect(seen.filter(([u]) => u.startsWith("bad")).map(([, n]) => n)).toEqual([1, 2, 3]);
    const info = await jsm.consumers.info(STREAMS.prompts.name, "rollout-poison");
    expect(info.num_ack_pending).toBe(0);
    expect(info.num_pending).toBe(0);
    const letter = await jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: deadLetterSubject(STREAMS.prompts.name) });
    const body = decodeEnvelope(letter!.data, "DeadLetter").body as DeadLetter;
    expect(body).toMatchObject({ stream: STREAMS.prompts.name, subject, kind: "PromptRequest", failure: "processing", consumer: "rollout-poison", deliveries: 3, uids: ["bad@0.0"] });
    expect(body.reason).toMatch(/delivery 3 of 3: tokenizer blew up on this prompt/);
    // The run's ledger record: the uid is dropped as dead-lettered, with the same reason.
    const ledger = await lastEvent(jsm, "poison", "ledger");
    expect(ledger?.body).toMatchObject({ type: "dropped", reason: "dead-letter", uids: ["bad@0.0"], stream: STREAMS.prompts.name, deliveries: 3 });
    expect(String(ledger?.body.error)).toMatch(/tokenizer blew up/);
  });

  it("bounds LSPO_VERIFIED, LSPO_BATCHES, LSPO_DLQ and LSPO_EVENTS by age and bytes (bus.* config)", async () => {
    const jsm = await jetstreamManager(bus.nc);
    const busConfig = resolveConfig({}, ["bus.batchesMaxAgeS=3600", "bus.deadLettersMaxBytes=1048576", "bus.verifiedMaxBytes=2097152"]).bus;
    await ensureStreams(jsm, { limits: streamLimitsOf(busConfig) });
    const batches = (await jsm.streams.info(STREAMS.batches.name)).config;
    expect(batches.max_age).toBe(3600 * 1e9);
    expect(batches.max_bytes).toBe(busConfig.batchesMaxBytes);
    expect((await jsm.streams.info(STREAMS.deadLetters.name)).config.max_bytes).toBe(1048576);
    const verified = (await jsm.streams.info(STREAMS.verified.name)).config;
    expect([verified.max_bytes, verified.max_age, verified.allow_direct]).toEqual([2097152, busConfig.verifiedMaxAgeS * 1e9, true]);
    const events = (await jsm.streams.info(STREAMS.events.name)).config;
    expect(events.max_age).toBeGreaterThan(0);
    expect(events.max_bytes).toBeGreaterThan(0);
  });
});
