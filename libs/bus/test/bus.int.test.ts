// Real nats-server (private, random port, temporary store) — no mocks.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, bytesOf, connectBus, consume, encodeEnvelope, ensureConsumer, getBlob, jetstream, jetstreamManager, kvGet, kvPut, openKv,
  openObjectStore, publishMessage, putBlob, putParts, sendAck, startLocalBus, subjectFor, validateWeightsRef, type Delivery, type LocalBus,
} from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

const prompt = (uid: string) => ({
  uid, runId: "r1", task: "t", promptText: "1+1", promptIds: bytesOf(new Int32Array([5, 6])), answer: "2", groupSize: 4, cursor: 3n,
});

async function take<T>(it: AsyncIterator<Delivery<T>>, n: number, timeoutMs = 5000): Promise<Delivery<T>[]> {
  const out: Delivery<T>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const r = await Promise.race([it.next(), new Promise<null>((res) => setTimeout(() => res(null), Math.max(0, deadline - Date.now())))]);
    if (r === null || r.done) break;
    out.push(r.value);
  }
  return out;
}

describe("bus - JetStream data plane", () => {
  it("publishes idempotently: a repeated message id is a duplicate, stored once", async () => {
    const js = jetstream(bus.nc);
    const subject = subjectFor("prompts", "dedupe");
    const a = await publishMessage(js, subject, "PromptRequest", prompt("p-1"), { msgId: "p-1" });
    const b = await publishMessage(js, subject, "PromptRequest", prompt("p-1"), { msgId: "p-1" });
    expect(a.duplicate).toBe(false);
    expect(b.duplicate).toBe(true);
    expect(b.seq).toBe(a.seq);
  });

  /** Prompts "a" and "b" published under run `run`, and a consumer of them (durable rollout-<run>) with this ack wait. */
  async function twoPrompts(run: string, ackWaitMs: number) {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("prompts", run);
    await ensureConsumer(jsm, STREAMS.prompts.name, `rollout-${run}`, { ackWaitMs, filterSubject: subject });
    for (const uid of ["a", "b"]) await publishMessage(js, subject, "PromptRequest", prompt(uid), { msgId: `${run}-${uid}` });
    const sub = await consume<ReturnType<typeof prompt>>(js, { stream: STREAMS.prompts.name, durable: `rollout-${run}`, kind: "PromptRequest" });
    return { jsm, sub };
  }

  it("delivers typed messages and redelivers what was not acked within ack-wait", async () => {
    const { sub } = await twoPrompts("redeliver", 500);
    const it = sub[Symbol.asyncIterator]();
    const first = await take(it, 2);
    expect(first.map((d) => d.body.uid).sort()).toEqual(["a", "b"]);
    expect(first[0].body.cursor).toBe(3n);
    first.find((d) => d.body.uid === "a")!.ack(); // "b" is dropped on the floor, as by a killed actor
    const again = await take(it, 1, 5000);
    expect(again.map((d) => d.body.uid)).toEqual(["b"]);
    expect(again[0].deliveryCount).toBe(2);
    again[0].ack();
    await sub.stop();
  });

  it("stop() gives back at once what the client pulled but never handed out; what it handed out stays the caller's", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("prompts", "stop-gives-back");
    // An ack wait far longer than the test: anything not nak'd by stop() could only come back after it.
    await ensureConsumer(jsm, STREAMS.prompts.name, "rollout-stop-gives-back", { ackWaitMs: 120_000, filterSubject: subject });
    const uids = Array.from({ length: 8 }, (_, i) => `s${i}`);
    for (const uid of uids) await publishMessage(js, subject, "PromptRequest", prompt(uid), { msgId: `stop-${uid}` });
    const opts = { stream: STREAMS.prompts.name, durable: "rollout-stop-gives-back", kind: "PromptRequest", batch: 8 };
    const first = await consume<ReturnType<typeof prompt>>(js, opts);
    const it = first[Symbol.asyncIterator]();
    const [held] = await take(it, 1);
    // The pull asked for 8: wait until the server counts all 8 delivered (held by this client), not just the one.
    let info = await jsm.consumers.info(STREAMS.prompts.name, "rollout-stop-gives-back");
    for (let i = 0; i < 100 && info.num_ack_pending < 8; i++) {
      await new Promise((r) => setTimeout(r, 20));
      info = await jsm.consumers.info(STREAMS.prompts.name, "rollout-stop-gives-back");
    }
    expect(info.num_ack_pending).toBe(8);
    // Another actor already waiting, as in a deployment, and one that comes after.
    const second = await consume<ReturnType<typeof prompt>>(js, opts);
    await first.stop();
    expect((await it.next()).done).toBe(true);
    // The other reader gets the other 7 now, each on its second delivery; the one handed out is not among them.
    const again = await take(second[Symbol.asyncIterator](), 7, 5000);
    expect(again.map((d) => d.body.uid).sort()).toEqual(uids.filter((u) => u !== held.body.uid));
    expect(again.every((d) => d.deliveryCount === 2)).toBe(true);
    for (const d of again) d.ack();
    held.ack();
    await second.stop();
  });

  it("a publish on a closed connection fails at once, not after its retries", async () => {
    const nc = await connectBus({ url: bus.server.url, name: "closed-publisher" });
    const js = jetstream(nc);
    await nc.close();
    const t0 = Date.now();
    // With a message id a publish is retried 20 times (backoff up to 2 s): a closed connection is not worth one.
    await expect(publishMessage(js, subjectFor("prompts", "closed"), "PromptRequest", prompt("c1"), { msgId: "closed-c1" })).rejects.toThrow(/closed/i);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("a publish retries only while retryWhile holds: checked after each failure and again after the wait", async () => {
    // A subject no stream stores, with a plain subscriber: each attempt reaches it and none is answered (a
    // 200-ms pub-ack timeout), so the subscriber counts the attempts.
    const subject = "lspo.test.unanswered";
    let attempts = 0;
    const sub = bus.nc.subscribe(subject, { callback: () => void attempts++ });
    const js = jetstream(bus.nc, { timeout: 200 });
    const tries = async (retryWhile: (() => boolean) | undefined, retries: number): Promise<number> => {
      attempts = 0;
      await expect(publishMessage(js, subject, "PromptRequest", prompt("u1"), { msgId: "u1", retries, retryWhile })).rejects.toThrow();
      await bus.nc.flush(); // every attempt has reached the subscriber
      return attempts;
    };
    try {
      expect(await tries(undefined, 2)).toBe(3); // no condition: the first try and both retries
      expect(await tries(() => true, 2)).toBe(3);
      expect(await tries(() => false, 2)).toBe(1); // a stopping service: the attempt under way only
      let asked = 0;
      expect(await tries(() => ++asked === 1, 2)).toBe(1); // the stop began during the wait: no second attempt
      expect(asked).toBe(2);
    } finally {
      sub.unsubscribe();
    }
  });

  it("acks a delivery later through its reply subject alone (deferAck, sendAck)", async () => {
    const { jsm, sub } = await twoPrompts("deferred", 60_000);
    const acks = (await take(sub[Symbol.asyncIterator](), 2)).map((d) => d.deferAck());
    expect(acks.map((a) => Object.keys(a))).toEqual([["reply"], ["reply"]]); // nothing of the message but where to ack
    expect((await jsm.consumers.info(STREAMS.prompts.name, "rollout-deferred")).num_ack_pending).toBe(2);
    for (const a of acks) sendAck(bus.nc, a);
    await bus.nc.flush();
    // The consumer applies acks on its own schedule after the server read them: poll briefly.
    let info = await jsm.consumers.info(STREAMS.prompts.name, "rollout-deferred");
    for (let i = 0; i < 40 && info.num_ack_pending > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      info = await jsm.consumers.info(STREAMS.prompts.name, "rollout-deferred");
    }
    expect(info.num_ack_pending).toBe(0);
    expect(info.ack_floor.stream_seq).toBe(info.delivered.stream_seq);
    await sub.stop();
  });

  it("dead-letters malformed payloads and keeps consuming", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("prompts", "fuzz");
    await ensureConsumer(jsm, STREAMS.prompts.name, "rollout-fuzz", { filterSubject: subject });
    const bad = [
      new Uint8Array([0xc1, 0x00]),
      encodeEnvelope("PromptRequest", { uid: 5 }),
      encodeEnvelope("VerifiedGroup", prompt("wrong-kind")),
      encodeEnvelope("PromptRequest", { ...prompt("x"), groupSize: Number.NaN }),
    ];
    for (const b of bad) await js.publish(subject, b);
    await publishMessage(js, subject, "PromptRequest", prompt("good"), { msgId: "fuzz-good" });
    const reasons: string[] = [];
    const sub = await consume<ReturnType<typeof prompt>>(js, {
      stream: STREAMS.prompts.name, durable: "rollout-fuzz", kind: "PromptRequest", onReject: (r) => reasons.push(r),
    });
    const got = await take(sub[Symbol.asyncIterator](), 1);
    expect(got.map((d) => d.body.uid)).toEqual(["good"]);
    got[0].ack();
    expect(sub.rejected).toBe(4);
    expect(reasons.join("\n")).toMatch(/groupSize/);
    const dlq = await jsm.streams.info(STREAMS.deadLetters.name);
    expect(dlq.state.messages).toBeGreaterThanOrEqual(4);
    await sub.stop();
  });

  it("stores typed KV entries and blobs far larger than the max payload", async () => {
    const kv = await openKv(bus.nc, "test-kv");
    const ref = { version: 3n, step: 2n, objectName: "w-3", sizeBytes: 10n, sha256: "ab" };
    await kvPut(kv, "run1", "WeightsRef", ref);
    expect((await kvGet(kv, "run1", "WeightsRef"))?.value).toEqual(ref);
    expect(await kvGet(kv, "missing", "WeightsRef")).toBeNull();

    const store = await openObjectStore(bus.nc, "test-blobs");
    const big = new Uint8Array(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    await putBlob(store, "big", big);
    expect(Buffer.compare(Buffer.from(await getBlob(store, "big")), Buffer.from(big))).toBe(0);
    // The same bytes put as parts (putParts: views written in turn, a part larger than one slice included).
    const huge = new Uint8Array(9 << 20).fill(5); // more than one 8 MiB slice
    await putParts(store, "parts", [big.subarray(0, 5), huge, big.subarray(5)]);
    const back = await getBlob(store, "parts");
    expect(back.byteLength).toBe(big.byteLength + huge.byteLength);
    expect(Buffer.compare(Buffer.from(back.subarray(0, 5)), Buffer.from(big.subarray(0, 5)))).toBe(0);
    expect(back.subarray(5, 5 + huge.length).every((b) => b === 5)).toBe(true);
    expect(Buffer.compare(Buffer.from(back.subarray(5 + huge.length)), Buffer.from(big.subarray(5)))).toBe(0);
  });

  it("a weights pointer's shards and dtype are checked, naming what is wrong; a pointer without them is valid", () => {
    const base = { version: 1n, step: 1n, objectName: "r/v1", sizeBytes: 8n, sha256: "ab" };
    const shard = { objectName: "r/v1/model-00001-of-00001.safetensors", sizeBytes: 8n, sha256: "a".repeat(64) };
    expect(validateWeightsRef(base)).toBeNull();
    expect(validateWeightsRef({ ...base, shards: [shard], dtype: "BF16" })).toBeNull();
    expect(validateWeightsRef({ ...base, shards: {} })).toBe("WeightsRef.shards should be an array");
    expect(validateWeightsRef({ ...base, shards: [shard, { ...shard, sizeBytes: -8 }] })).toBe("WeightsRef.shards[1].sizeBytes should be bigint, got number");
    expect(validateWeightsRef({ ...base, shards: [{ ...shard, sha256: "zz" }] })).toBe("WeightsRef.shards[0].sha256 is not a hex SHA-256");
    expect(validateWeightsRef({ ...base, dtype: "F16" })).toBe("WeightsRef.dtype should be F32 or BF16, got F16");
  });

  it("keeps acknowledged publishes across a server restart (file storage)", async () => {
    const js = jetstream(bus.nc);
    const subject = subjectFor("verified", "restart");
    const ack = await js.publish(subject, encodeEnvelope("Raw", { n: 1 }), { msgID: "restart-1" });
    await bus.server.restart();
    const nc2 = await connectBus({ url: bus.server.url });
    try {
      const jsm = await jetstreamManager(nc2);
      const msg = await jsm.streams.getMessage(STREAMS.verified.name, { seq: ack.seq });
      expect(msg?.subject).toBe(subject);
    } finally {
      await nc2.close();
    }
  });

  // Two runs on one NATS share each stage's stream (a subject per run), and their uids can coincide (same
  // seed, same data): a message id deduplicates a retry within its run, never a message of another run.
  it("bus - the same message id in two runs' subjects is stored twice; a retry in one run is dropped", async () => {
    const js = jetstream(bus.nc);
    const a = await publishMessage(js, subjectFor("rollouts", "run-a"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
    const b = await publishMessage(js, subjectFor("rollouts", "run-b"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
    const again = await publishMessage(js, subjectFor("rollouts", "run-a"), "Raw", { n: 1 }, { msgId: "rollout-uid-7" });
    expect([a.duplicate, b.duplicate, again.duplicate]).toEqual([false, false, true]);
    const info = await (await jetstreamManager(bus.nc)).streams.info(STREAMS.rollouts.name, { subjects_filter: "lspo.rollouts.>" });
    const counts = info.state.subjects ?? {};
    expect([counts[subjectFor("rollouts", "run-a")], counts[subjectFor("rollouts", "run-b")]]).toEqual([1, 1]);
  });
});
