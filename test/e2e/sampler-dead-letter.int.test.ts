// A verified group whose judgement throws bus.maxDeliver times (the sampler's own count, in KV: a delivery
// that dies unjudged is no try) is dead-lettered and stays on LSPO_VERIFIED:
// the letter names its sequence and holds only its first 64 KB, the kept stream holds the whole body. So that
// a restarted sampler does not judge it again (where judging might now succeed: a transient fault), its
// sequence is marked in KV before the restart; the replay of the unacked tail skips marked sequences, and a
// mark at or below the consumer's ack floor (never replayed again) is dropped at the next start.
// Real processes, real NATS.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipelineConsumer } from "@lspo/actors";
import {
  KV_BUCKETS, STREAMS, bytesOf, connectBus, decodeEnvelope, deadLetterSubject, encodeEnvelope, ensureConsumer, ensureStreams, jetstream,
  jetstreamManager, nextOnSubject, openKv, startNatsServer, subjectFor, verifiedHeaders,
  type DeadLetter, type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import type { VerifiedGroup } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";
import { exited, startService, type Service } from "../../bench/lib/serve.js";
import { until } from "./support/wait.js";

let dir: string;
let vocab: number;
let server: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

/** A group of 4 responses with mixed verdicts; `len` tokens each (15,000: ~120 KB, over the letter's 64 KB). */
function group(uid: string, len: number, run: string): VerifiedGroup {
  return {
    group: {
      uid,
      prompt: { uid, runId: run, task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from([1, 2])), answer: "", groupSize: 4, cursor: 0n },
      responses: [0, 1, 2, 3].map((k) => ({
        tokenIds: bytesOf(Int32Array.from({ length: len + k }, (_, t) => (t * 7 + k) % vocab)), logprobs: bytesOf(new Float32Array(len + k)), truncated: false, text: "",
      })),
      policyVersion: 0n,
      actor: "rollout-0",
    },
    rewards: [1, 0, 1, 0],
    correct: [true, false, true, false],
  };
}

function configFor(run: string): RunConfig {
  return resolveConfig({
    run: { name: run, dir: join(dir, run) },
    nats: { url: server.url },
    model: { dir: join(dir, "model") },
    rollout: { groupSize: 4, maxNewTokens: 16_000 },
    bus: { maxDeliver: 2 },
    // A redelivery 3 s after a delivery dies with its sampler; a snapshot at most 1.5 s after a judgement.
    sampler: { mode: "stream", batchSize: 4, window: 16, lengthFilter: false, snapshotEveryMs: 1500, ackWaitMs: 3000 },
  });
}

/** Publishes the groups on the run's subject; their stream sequences and encoded bodies. */
async function publish(run: string, groups: VerifiedGroup[]): Promise<Array<{ seq: number; data: Uint8Array }>> {
  const out = [];
  for (const g of groups) {
    const data = encodeEnvelope("VerifiedGroup", g).slice();
    out.push({ seq: (await js.publish(subjectFor("verified", run), data, { headers: verifiedHeaders(g) })).seq, data });
  }
  return out;
}

const start = (run: string, i: number, config: RunConfig): Service =>
  startService("sampler", config, { name: `sampler-${run}-${i}`, logDir: dir, readyTimeoutMs: 120_000 });
const markKey = (run: string, seq: number) => `${run}.dead-lettered.${seq}`;
const failuresKey = (run: string, seq: number) => `${run}.judge-failures.${seq}`;
/** The body LSPO_VERIFIED holds at `seq` (as a Buffer: compared with what was published). */
const stored = async (seq: number) => Buffer.from((await jsm.direct.getMessage(STREAMS.verified.name, { seq }))!.data);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-dead-kept-"));
  const model = createModelFromSpec({
    seed: 0,
    model: { model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 32768, tie_word_embeddings: true },
  });
  vocab = model.config.vocabSize;
  writeModelDir(join(dir, "model"), model);
  server = await startNatsServer({ storeDir: join(dir, "nats"), maxPayload: 8 * 1024 * 1024 });
  nc = await connectBus({ url: server.url, name: "sampler-dead-letter" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
}, 120_000);

afterAll(async () => {
  delete process.env.LSPO_FAULT_SAMPLER_THROW_UID;
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("sampler - a dead-lettered verified group", { timeout: 300_000 }, () => {
  it("stays whole on LSPO_VERIFIED, marked for the replay; the mark goes once the ack floor passes it", async () => {
    const run = "dead-kept";
    const config = configFor(run);
    const kv = await openKv(nc, KV_BUCKETS.sampler);
    const [poison] = await publish(run, [group("poison", 15_000, run)]);
    expect(poison.data.byteLength).toBeGreaterThan(65_536);

    // Judging it throws every time: the first incarnation fails once (not the last of 2 tries) and exits; the
    // second judges it again (replaying its unacked tail, or on its redelivery), fails the second time, the
    // last, and dead-letters it.
    process.env.LSPO_FAULT_SAMPLER_THROW_UID = "poison";
    const logs: string[] = [];
    const logOf = (i: number, s: Service) => `--- incarnation ${i} (exit ${s.child.exitCode ?? s.child.signalCode ?? "running"}):\n${readFileSync(s.logPath, "utf8").slice(-6000)}`;
    const first = start(run, 0, config);
    // (It may exit before its "ready" line is read: the exit and the log say what happened.)
    await first.ready.catch(() => undefined);
    await exited(first.child);
    logs.push(logOf(0, first));
    expect(first.child.exitCode, logs.join("\n")).not.toBe(0);
    expect(readFileSync(first.logPath, "utf8")).toContain("injected fault judging poison");
    expect((await kv.get(failuresKey(run, poison.seq)))?.string()).toBe("1");

    const second = start(run, 1, config);
    await second.ready.catch(() => undefined);
    // The letter is published before the second incarnation goes on (from its replay) or exits (on the
    // redelivery); read from the stream (not a consumer's first fetch, which may expire empty on a loaded
    // machine), and on a miss the two logs say why.
    const found: { letter?: Uint8Array } = {};
    await until("the dead letter on LSPO_DLQ", async () => {
      found.letter = (await jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: deadLetterSubject(STREAMS.verified.name) }).catch(() => null))?.data;
      return found.letter !== undefined;
    }, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${[...logs, logOf(1, second)].join("\n")}`);
    });
    delete process.env.LSPO_FAULT_SAMPLER_THROW_UID;
    const letter = decodeEnvelope(found.letter!, "DeadLetter").body as DeadLetter;
    expect(letter).toMatchObject({ stream: STREAMS.verified.name, seq: poison.seq, deliveries: 2, consumer: `sampler-${run}` });
    expect(letter.reason).toMatch(/^judging failed 2 times \(bus\.maxDeliver 2\): injected fault judging poison/);
    expect(letter.payload.byteLength).toBe(65_536);
    // The whole body is still on the stream, at the sequence the letter names, and the sequence is marked.
    expect(await stored(poison.seq)).toEqual(Buffer.from(poison.data));
    expect((await kv.get(markKey(run, poison.seq)))?.operation).toBe("PUT");

    // Its delivery ends: terminated with the letter, or (dead-lettered by a replay, which holds no delivery of
    // it) acked unjudged when it comes back. Nothing before it is unacked, so the ack floor passes it.
    await until("the ack floor past the dead-lettered group", async () => (await jsm.consumers.info(STREAMS.verified.name, `sampler-${run}`)).ack_floor.stream_seq >= poison.seq, 30_000)
      .catch((err: Error) => {
        throw new Error(`${err.message}\n${[...logs, logOf(1, second)].join("\n")}`);
      });
    await second.stop();
    // The second incarnation judged it once, from its replay or on a delivery, whichever came: its delivery
    // after a replay's letter is acked unjudged, never judged (and failed) again.
    const failedJudgements = (path: string) => readFileSync(path, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []))
      .filter((l) => l.msg === "judging threw" || l.msg === "judging threw its last time: dead-lettered");
    expect(failedJudgements(first.logPath).map((l) => [l.msg, l.failures])).toEqual([["judging threw", 1]]);
    const secondFailures = failedJudgements(second.logPath);
    expect(secondFailures.map((l) => [l.msg, l.failures]), logOf(1, second)).toEqual([["judging threw its last time: dead-lettered", 2]]);
    expect(secondFailures[0].err).toContain("injected fault judging poison");
    // The next start drops the mark and the count: at or below the ack floor, nothing is judged again.
    const next = start(run, 2, config);
    await next.ready;
    expect((await kv.get(markKey(run, poison.seq)))?.operation).not.toBe("PUT");
    expect((await kv.get(failuresKey(run, poison.seq)))?.operation).not.toBe("PUT");
    await next.stop();
    expect(await stored(poison.seq)).toEqual(Buffer.from(poison.data));
  });

  it("deliveries that die unjudged spend no tries: past bus.maxDeliver of them the groups are judged and acked, none dead-lettered", async () => {
    const run = "dead-unjudged";
    const config = configFor(run);
    const c = pipelineConsumer("sampler", config);
    // The consumer as a sampler before the count was its own made it: the server gave up after bus.maxDeliver
    // deliveries. A start puts it on no limit.
    await ensureConsumer(jsm, c.stream, c.durable, { filterSubject: c.subject, ...c.opts, maxDeliver: config.bus.maxDeliver });
    const upgrade = start(run, 0, config);
    await upgrade.ready;
    await upgrade.stop();
    expect((await jsm.consumers.info(c.stream, c.durable)).config.max_deliver).toBe(-1);

    // Three deliveries of each group, none judged (the pulls of incarnations killed in turn): one more than
    // bus.maxDeliver (2), where the server's count stopped delivering them.
    const sent = await publish(run, Array.from({ length: 3 }, (_, i) => group(`u${i}`, 5 + i, run)));
    for (let delivery = 1; delivery <= 3; delivery++) {
      const got: number[] = [];
      for await (const m of await (await js.consumers.get(c.stream, c.durable)).fetch({ max_messages: sent.length, expires: 8000 })) got.push(m.info.deliveryCount);
      expect(got, `delivery ${delivery}`).toEqual(sent.map(() => delivery));
      if (delivery < 3) await new Promise((r) => setTimeout(r, config.sampler.ackWaitMs + 500));
    }

    // A sampler now judges them (its replay of the unacked tail) and acks them once a snapshot covers them.
    const s = start(run, 1, config);
    await s.ready;
    await until("the ack floor past the groups", async () => (await jsm.consumers.info(c.stream, c.durable)).ack_floor.stream_seq >= sent[2].seq, 30_000);
    await s.stop();
    const ready = readFileSync(s.logPath, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : [])).find((l) => l.msg === "sampler ready");
    expect(ready.replayed).toBe(sent.length);
    // No letter names them.
    const letters: DeadLetter[] = [];
    for (let seq = 1; ; ) {
      const m = await nextOnSubject(jsm, STREAMS.deadLetters.name, deadLetterSubject(STREAMS.verified.name), seq);
      if (!m) break;
      letters.push(decodeEnvelope(m.data, "DeadLetter").body as DeadLetter);
      seq = m.seq + 1;
    }
    expect(letters.filter((l) => sent.some((g) => g.seq === l.seq))).toEqual([]);
  });

  it("the replay of the unacked tail skips a marked sequence", async () => {
    const run = "dead-replay";
    const config = configFor(run);
    const kv = await openKv(nc, KV_BUCKETS.sampler);
    const sent = await publish(run, Array.from({ length: 6 }, (_, i) => group(`g${i}`, 5 + i, run)));
    // Delivered (to the sampler's own durable consumer, as the sampler sets it up) and never acked: the tail
    // a sampler killed before its next snapshot leaves. Then the third group's sequence is marked.
    const c = pipelineConsumer("sampler", config);
    await ensureConsumer(jsm, c.stream, c.durable, { filterSubject: c.subject, ...c.opts });
    let delivered = 0;
    for await (const _m of await (await js.consumers.get(c.stream, c.durable)).fetch({ max_messages: sent.length, expires: 5000 })) delivered++;
    expect(delivered).toBe(sent.length);
    await kv.put(markKey(run, sent[2].seq), String(sent[2].seq));

    const s = start(run, 0, config);
    await s.ready;
    await s.stop();
    const ready = readFileSync(s.logPath, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : [])).find((l) => l.msg === "sampler ready");
    expect(ready.replayed).toBe(sent.length - 1);
  });
});
