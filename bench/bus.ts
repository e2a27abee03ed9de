// `npm run bench -- bus` (issue 9, item 2): the cost of our typed bus path against raw @nats-io JetStream,
// with byte-identical payloads (RolloutGroup envelopes of ~1 KB, 64 KB, 1 MB) on the real rollouts stream.
//   ours: publishMessage (msgpackr envelope + JetStream publish with a message id) and consume() (decode,
//         structural validation, explicit ack);
//   raw:  js.publish of the already-encoded bytes with the same message id, consumer.consume() + explicit ack.
// One trial publishes N messages (a window of publishes in flight, every one pub-acked), then consumes all N
// and acks each (flushed to the server). The two paths alternate order within each run; each ratio is
// ours/raw from the same run; reported as median (min–max) over the runs. Besides wall-clock throughput it
// records this process's CPU time per message (publisher and consumer both live here): on a shared machine
// the wall clock swings with other tenants' load, CPU time much less. Writes bench/results/bus.json.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  STREAMS, connectBus, consume, decodeEnvelope, ensureConsumer, ensureStream, jetstream, jetstreamManager,
  leaseEnvelope, publishMessage, startNatsServer, validateRolloutGroup, type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import type { RolloutGroup } from "@lspo/proto";
import { sizedRolloutGroup, type SizedPayload } from "./lib/payloads.js";
import { fmt, judgeGoal, machine, secondsSince, summarize, type Summary } from "./lib/stats.js";
import { startProvenance } from "@lspo/telemetry";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const RUNS = 15;
const IN_FLIGHT = 64; // publishes awaiting their pub-ack at once
// Messages per pull, both paths: consume()'s default, which the verifier uses on the rollouts stream. (64 pulls
// of 1 MB exceed nats-server's 64 MB per-client pending limit: the server cuts the consumer off as slow.)
const PULL_BATCH = 16;
const TRIAL_TIMEOUT_MS = 60_000;
// 1 KB holds only a short group (G = 2, a 16-token prompt); the larger sizes are G = 8 after a 48-token prompt.
const SIZES: { label: string; bytes: number; g: number; promptTokens: number; n: number }[] = [
  { label: "1 KB", bytes: 1024, g: 2, promptTokens: 16, n: 10000 },
  { label: "64 KB", bytes: 64 * 1024, g: 8, promptTokens: 48, n: 1500 },
  { label: "1 MB", bytes: 1024 * 1024, g: 8, promptTokens: 48, n: 150 },
];
const STREAM = STREAMS.rollouts.name;
type Path = "ours" | "raw";

// A full GC before each trial (untimed), so no trial's CPU time pays for the garbage of the one before it.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

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

/** A stalled trial fails the benchmark with what stalled, instead of waiting for redeliveries. */
async function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${TRIAL_TIMEOUT_MS} ms`)), TRIAL_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Trial {
  publishS: number;
  consumeS: number;
  /** CPU seconds (user + system) of this process in each phase. */
  publishCpuS: number;
  consumeCpuS: number;
}

const cpuSince = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

async function trial(path: Path, pub: NatsConnection, sub: NatsConnection, p: SizedPayload, n: number, tag: string): Promise<Trial> {
  const jsm = await jetstreamManager(sub);
  const subject = `lspo.rollouts.${tag}`;
  await ensureConsumer(jsm, STREAM, tag, { filterSubject: subject, ackWaitMs: 120_000 });
  gc();
  let c = process.cpuUsage();
  let t = process.hrtime.bigint();
  await withTimeout(publishAll(path, jetstream(pub), subject, p, n, tag), `${path} publishing ${n} x ${p.label}`);
  const publishS = secondsSince(t);
  const publishCpuS = cpuSince(c);
  gc();
  c = process.cpuUsage();
  t = process.hrtime.bigint();
  const stop = await withTimeout(consumeAll(path, jetstream(sub), p, n, tag), `${path} consuming ${n} x ${p.label}`);
  await sub.flush(); // the acks have reached the server
  const consumeS = secondsSince(t);
  const consumeCpuS = cpuSince(c);
  await stop();
  await assertAllAcked(jsm, tag, n);
  await jsm.consumers.delete(STREAM, tag);
  return { publishS, consumeS, publishCpuS, consumeCpuS };
}

/** Microseconds per call of the codec and validator alone, on one hot buffer (a lower bound of their cost): median of 7 batches. */
function codecMicros(p: SizedPayload): { leasedEncode: number; decode: number; validate: number } {
  const reps = Math.max(20, Math.round(4e6 / p.bytes.byteLength));
  const time = (fn: () => unknown) => {
    for (let i = 0; i < 5; i++) fn();
    const batches = Array.from({ length: 7 }, () => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < reps; i++) fn();
      return (secondsSince(t) * 1e6) / reps;
    });
    return summarize(batches).median;
  };
  const body = decodeEnvelope(p.bytes, "RolloutGroup").body;
  return {
    leasedEncode: time(() => leaseEnvelope("RolloutGroup", p.body).release()),
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
const loadBefore = loadavg();

type Measured = Record<Path, Trial[]>;
const measured = new Map<string, Measured>();
let trialNo = 0;
// The rollouts stream as the services create it (file storage, work queue).
await ensureStream(jsm, STREAMS.rollouts);
for (const { label, n, payload } of payloads) {
  const m: Measured = { ours: [], raw: [] };
  measured.set(label, m);
  for (const path of ["ours", "raw"] as const) await trial(path, pub, sub, payload, Math.min(n, 50), `warm${trialNo++}`);
  for (let r = 0; r < RUNS; r++) {
    const order: Path[] = r % 2 ? ["ours", "raw"] : ["raw", "ours"];
    for (const path of order) m[path].push(await trial(path, pub, sub, payload, n, `t${trialNo++}`));
  }
  const ratio = summarize(m.ours.map((t, i) => (m.raw[i].publishS + m.raw[i].consumeS) / (t.publishS + t.consumeS)));
  console.log(`${label.padEnd(6)} end-to-end ours/raw ${fmt(ratio, 3)}`);
}
const totalS = secondsSince(started);
await pub.close();
await sub.close();
await server.stop();

type Sel = (t: Trial) => number;
type Phase = "publish" | "consume" | "endToEnd";
const PHASES: Record<Phase, { wall: Sel; cpu: Sel }> = {
  publish: { wall: (t) => t.publishS, cpu: (t) => t.publishCpuS },
  consume: { wall: (t) => t.consumeS, cpu: (t) => t.consumeCpuS },
  endToEnd: { wall: (t) => t.publishS + t.consumeS, cpu: (t) => t.publishCpuS + t.consumeCpuS },
};
/** One phase's figures for one size: throughputs, the paired ratio and CPU per message. */
function phaseStats(m: Measured, n: number, mb: number, { wall, cpu }: { wall: Sel; cpu: Sel }) {
  return {
    oursMsgsPerS: summarize(m.ours.map((t) => n / wall(t))),
    rawMsgsPerS: summarize(m.raw.map((t) => n / wall(t))),
    oursMBPerS: summarize(m.ours.map((t) => mb / wall(t))),
    rawMBPerS: summarize(m.raw.map((t) => mb / wall(t))),
    /** ours/raw throughput, pair by pair (the two trials of the same run). */
    ratio: summarize(m.ours.map((t, i) => wall(m.raw[i]) / wall(t))),
    oursCpuMicrosPerMsg: summarize(m.ours.map((t) => (cpu(t) * 1e6) / n)),
    rawCpuMicrosPerMsg: summarize(m.raw.map((t) => (cpu(t) * 1e6) / n)),
  };
}
const rows = [...measured].map(([label, m]) => {
  const { n, payload } = payloads.find((p) => p.label === label)!;
  const mb = (n * payload.bytes.byteLength) / 1e6;
  const endToEnd = phaseStats(m, n, mb, PHASES.endToEnd);
  return {
    size: label, envelopeBytes: payload.bytes.byteLength, groupSize: payload.groupSize, promptTokens: payload.promptTokens,
    tokensPerResponse: payload.tokensPerResponse, messages: n, goalVerdict: judgeGoal(endToEnd.ratio, 0.9),
    publish: phaseStats(m, n, mb, PHASES.publish), consume: phaseStats(m, n, mb, PHASES.consume), endToEnd,
  };
});
const codec = payloads.map(({ label, payload }) => ({ size: label, envelopeBytes: payload.bytes.byteLength, microsPerCall: codecMicros(payload) }));

const result = {
  provenance: provenance.finish(),
  command: "npm run bench -- bus",
  date: new Date().toISOString(),
  machine: machine(),
  goal: "end-to-end ours/raw >= 0.9",
  setup: {
    runs: RUNS,
    publishesInFlight: IN_FLIGHT,
    pullBatch: PULL_BATCH,
    stream: `${STREAM} as the services create it (file storage, work queue)`,
    connections: "one for publishing, one for consuming, both in this process; nats-server on loopback",
    metric: "msgs/s = N / phase seconds; endToEnd = N / (publish + consume seconds); ratio = ours/raw throughput of the same run; cpu = this process's user+system CPU per message",
  },
  totalSeconds: totalS,
  // The machine is shared: its load average (1, 5, 15 min) before and after says how noisy the run was.
  loadAverage: { before: loadBefore, after: loadavg() },
  rows,
  codec,
};
writeFileSync(join(import.meta.dirname, "results", "bus.json"), `${JSON.stringify(result, null, 2)}\n`);
for (const r of rows) {
  for (const phase of Object.keys(PHASES) as Phase[]) {
    const x = r[phase];
    console.log(
      `${r.size.padEnd(6)} ${phase.padEnd(9)} ours/raw ${fmt(x.ratio, 3)}  ours ${fmt(x.oursMsgsPerS, 0)} msg/s, raw ${fmt(x.rawMsgsPerS, 0)}  ` +
        `cpu µs/msg ours ${x.oursCpuMicrosPerMsg.median.toFixed(0)} raw ${x.rawCpuMicrosPerMsg.median.toFixed(0)}`,
    );
  }
}
for (const c of codec) {
  const u = c.microsPerCall;
  console.log(`codec ${c.size.padEnd(6)} leased encode ${u.leasedEncode.toFixed(1)} µs  decode ${u.decode.toFixed(1)} µs  validate ${u.validate.toFixed(1)} µs`);
}
console.log(`total ${totalS.toFixed(0)} s, load average ${result.loadAverage.before.map((x) => x.toFixed(1)).join(" ")} -> ${result.loadAverage.after.map((x) => x.toFixed(1)).join(" ")}`);
