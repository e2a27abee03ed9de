// `npm run bench -- bus` (issue 9, item 2): the cost of our typed bus path against raw @nats-io JetStream,
// with byte-identical payloads (RolloutGroup envelopes of ~1 KB, 64 KB, 1 MB) on the real rollouts stream.
//   ours: publishMessage (msgpackr envelope + JetStream publish with a message id) and consume() (decode,
//         structural validation, explicit ack);
//   raw:  js.publish of the already-encoded bytes with the same message id, consumer.consume() + explicit ack.
// One trial publishes N messages (a window of publishes in flight, every one pub-acked), then consumes all N
// and acks each (flushed to the server). The two paths alternate order within each run; each ratio is
// ours/raw from the same run; reported as median (min–max) over the runs. Writes bench/results/bus.json.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  STREAMS, connectBus, consume, decodeEnvelope, encodeEnvelope, ensureConsumer, ensureStream, jetstream, jetstreamManager,
  publishMessage, startNatsServer, validateRolloutGroup, type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import type { RolloutGroup } from "@lspo/proto";
import { sizedRolloutGroup, type SizedPayload } from "./lib/payloads.js";
import { fmt, machine, secondsSince, summarize, type Summary } from "./lib/stats.js";

const RUNS = 5;
const IN_FLIGHT = 64; // publishes awaiting their pub-ack at once
const PULL_BATCH = 64; // messages per pull, both paths
const STORAGES = ["file", "memory"] as const;
// 1 KB holds only a short group (G = 2, a 16-token prompt); the larger sizes are G = 8 after a 48-token prompt.
const SIZES: { label: string; bytes: number; g: number; promptTokens: number; n: number }[] = [
  { label: "1 KB", bytes: 1024, g: 2, promptTokens: 16, n: 4000 },
  { label: "64 KB", bytes: 64 * 1024, g: 8, promptTokens: 48, n: 600 },
  { label: "1 MB", bytes: 1024 * 1024, g: 8, promptTokens: 48, n: 60 },
];
const STREAM = STREAMS.rollouts.name;
type Path = "ours" | "raw";

/** Runs fn(0..n-1) with at most `window` calls in flight. */
async function pipelined(n: number, window: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
}

async function publishAll(path: Path, js: JetStreamClient, subject: string, p: SizedPayload, n: number, tag: string): Promise<void> {
  let duplicates = 0;
  await pipelined(n, IN_FLIGHT, async (i) => {
    const ack =
      path === "ours"
        ? await publishMessage(js, subject, "RolloutGroup", p.body, { msgId: `${tag}-${i}` })
        : await js.publish(subject, p.bytes, { msgID: `${tag}-${i}` });
    if (ack.duplicate) duplicates++;
  });
  if (duplicates) throw new Error(`${path}: ${duplicates} of ${n} publishes were dropped as duplicates`);
}

async function consumeAll(path: Path, js: JetStreamClient, p: SizedPayload, n: number, durable: string): Promise<() => Promise<void>> {
  if (path === "ours") {
    const sub = await consume<RolloutGroup>(js, { stream: STREAM, durable, kind: "RolloutGroup", batch: PULL_BATCH });
    const it = sub[Symbol.asyncIterator]();
    for (let k = 0; k < n; k++) {
      const r = await it.next();
      if (r.done) throw new Error(`ours: the subscription ended after ${k} of ${n} messages`);
      if (r.value.body.responses.length !== p.groupSize) throw new Error(`ours: message ${k} has ${r.value.body.responses.length} responses`);
      r.value.ack();
    }
    if (sub.rejected) throw new Error(`ours: ${sub.rejected} messages were rejected by validation`);
    return () => sub.stop();
  }
  const consumer = await js.consumers.get(STREAM, durable);
  const messages = await consumer.consume({ max_messages: PULL_BATCH });
  const it = messages[Symbol.asyncIterator]();
  for (let k = 0; k < n; k++) {
    const r = await it.next();
    if (r.done) throw new Error(`raw: the subscription ended after ${k} of ${n} messages`);
    if (r.value.data.byteLength !== p.bytes.byteLength) throw new Error(`raw: message ${k} has ${r.value.data.byteLength} bytes`);
    r.value.ack();
  }
  return async () => {
    messages.stop();
  };
}

/** Outside the timing: every message was delivered once and acked (the work queue is empty). */
async function assertAllAcked(jsm: JetStreamManager, durable: string, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const info = await jsm.consumers.info(STREAM, durable);
    if (info.num_ack_pending === 0 && info.num_pending === 0 && info.delivered.consumer_seq === n) return;
    if (Date.now() > deadline) {
      throw new Error(`${durable}: delivered ${info.delivered.consumer_seq}/${n}, ack pending ${info.num_ack_pending}, pending ${info.num_pending}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Trial {
  publishS: number;
  consumeS: number;
}

async function trial(path: Path, pub: NatsConnection, sub: NatsConnection, p: SizedPayload, n: number, tag: string): Promise<Trial> {
  const jsm = await jetstreamManager(sub);
  const subject = `lspo.rollouts.${tag}`;
  await ensureConsumer(jsm, STREAM, tag, { filterSubject: subject, ackWaitMs: 120_000 });
  let t = process.hrtime.bigint();
  await publishAll(path, jetstream(pub), subject, p, n, tag);
  const publishS = secondsSince(t);
  t = process.hrtime.bigint();
  const stop = await consumeAll(path, jetstream(sub), p, n, tag);
  await sub.flush(); // the acks have reached the server
  const consumeS = secondsSince(t);
  await stop();
  await assertAllAcked(jsm, tag, n);
  await jsm.consumers.delete(STREAM, tag);
  return { publishS, consumeS };
}

/** Microseconds per call of the codec and validator alone (where our path's extra time goes). */
function codecMicros(p: SizedPayload): { encode: number; decode: number; validate: number } {
  const reps = Math.max(20, Math.round(4e6 / p.bytes.byteLength));
  const time = (fn: () => unknown) => {
    for (let i = 0; i < 5; i++) fn();
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    return (secondsSince(t) * 1e6) / reps;
  };
  const body = decodeEnvelope(p.bytes, "RolloutGroup").body;
  return {
    encode: time(() => encodeEnvelope("RolloutGroup", p.body)),
    decode: time(() => decodeEnvelope(p.bytes, "RolloutGroup")),
    validate: time(() => validateRolloutGroup(body)),
  };
}

const payloads = SIZES.map((s) => ({ ...s, payload: sizedRolloutGroup(s.label, s.bytes, s.g, s.promptTokens) }));
const server = await startNatsServer({ maxPayload: 2 * 1024 * 1024 });
const pub = await connectBus({ url: server.url, name: "bench-publisher" });
const sub = await connectBus({ url: server.url, name: "bench-consumer" });
const jsm = await jetstreamManager(sub);
const started = process.hrtime.bigint();

type Measured = Record<Path, Trial[]>;
const measured = new Map<string, Measured>();
let trialNo = 0;
for (const storage of STORAGES) {
  await jsm.streams.delete(STREAM).catch(() => undefined);
  await ensureStream(jsm, STREAMS.rollouts, { storage });
  for (const { label, n, payload } of payloads) {
    const m: Measured = { ours: [], raw: [] };
    measured.set(`${storage}/${label}`, m);
    for (const path of ["ours", "raw"] as const) await trial(path, pub, sub, payload, Math.min(n, 50), `warm${trialNo++}`);
    for (let r = 0; r < RUNS; r++) {
      const order: Path[] = r % 2 ? ["ours", "raw"] : ["raw", "ours"];
      for (const path of order) m[path].push(await trial(path, pub, sub, payload, n, `t${trialNo++}`));
    }
    const e2e = (t: Trial) => n / (t.publishS + t.consumeS);
    const ratio = summarize(m.ours.map((t, i) => e2e(t) / e2e(m.raw[i])));
    console.log(`${storage.padEnd(6)} ${label.padEnd(6)} end-to-end ours/raw ${fmt(ratio, 3)}  ours ${e2e(m.ours[0]).toFixed(0)} msg/s`);
  }
}
const totalS = secondsSince(started);
await pub.close();
await sub.close();
await server.stop();

const rows = [...measured].map(([key, m]) => {
  const [storage, label] = key.split("/");
  const { n, payload } = payloads.find((p) => p.label === label)!;
  const mb = (n * payload.bytes.byteLength) / 1e6;
  const rate = (sel: (t: Trial) => number) => (path: Path): Summary => summarize(m[path].map((t) => n / sel(t)));
  const ratio = (sel: (t: Trial) => number): Summary => summarize(m.ours.map((t, i) => sel(m.raw[i]) / sel(t)));
  const phases = { publish: (t: Trial) => t.publishS, consume: (t: Trial) => t.consumeS, endToEnd: (t: Trial) => t.publishS + t.consumeS };
  const perPhase = Object.fromEntries(
    Object.entries(phases).map(([phase, sel]) => [
      phase,
      {
        oursMsgsPerS: rate(sel)("ours"),
        rawMsgsPerS: rate(sel)("raw"),
        oursMBPerS: summarize(m.ours.map((t) => mb / sel(t))),
        rawMBPerS: summarize(m.raw.map((t) => mb / sel(t))),
        ratio: ratio(sel),
      },
    ]),
  );
  return { storage, size: label, envelopeBytes: payload.bytes.byteLength, groupSize: payload.groupSize, promptTokens: payload.promptTokens, tokensPerResponse: payload.tokensPerResponse, messages: n, ...perPhase };
});
const codec = payloads.map(({ label, payload }) => ({ size: label, envelopeBytes: payload.bytes.byteLength, microsPerCall: codecMicros(payload) }));

const result = {
  command: "npm run bench -- bus",
  date: new Date().toISOString(),
  machine: machine(),
  goal: "end-to-end ours/raw >= 0.9",
  setup: {
    runs: RUNS,
    publishesInFlight: IN_FLIGHT,
    pullBatch: PULL_BATCH,
    stream: `${STREAM} (work queue, the rollouts stream's real config), storage as in each row`,
    connections: "one for publishing, one for consuming, both in this process, nats-server on loopback",
    metric: "msgs/s = N / phase seconds; endToEnd = N / (publish + consume seconds); ratio = ours/raw throughput within the same run",
  },
  totalSeconds: totalS,
  rows,
  codec,
};
writeFileSync(join(import.meta.dirname, "results", "bus.json"), `${JSON.stringify(result, null, 2)}\n`);
for (const r of rows) {
  console.log(
    `${r.storage.padEnd(6)} ${r.size.padEnd(6)} publish ${fmt(r.publish.ratio, 3)}  consume ${fmt(r.consume.ratio, 3)}  ` +
      `end-to-end ${fmt(r.endToEnd.ratio, 3)}  (ours ${fmt(r.endToEnd.oursMsgsPerS, 0)} msg/s, raw ${fmt(r.endToEnd.rawMsgsPerS, 0)})`,
  );
}
for (const c of codec) console.log(`codec ${c.size.padEnd(6)} encode ${c.microsPerCall.encode.toFixed(1)} µs  decode ${c.microsPerCall.decode.toFixed(1)} µs  validate ${c.microsPerCall.validate.toFixed(1)} µs`);
console.log(`total ${totalS.toFixed(0)} s`);
