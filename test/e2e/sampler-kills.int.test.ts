// The sampler's replay under SIGKILL (issue 18): 50,000 verified groups, the policy version moving through
// them (a stale group now and then), judged by the real sampler service (`lspo serve sampler`) twice on the
// same input: once without interruption, and once SIGKILLed at 20 random points of the stream and restarted
// each time. The batches on LSPO_BATCHES must be the same, index by index, uid by uid and in order; no uid
// may be in two batches; every group must end with the same verdict. The kills land anywhere: between
// snapshots (the usual case: up to sampler.snapshotEveryGroups judged groups replayed), after a batch was
// published and before a snapshot covered it, inside a snapshot write. Then the same with SIGTERM, the way
// an orchestrator stops a pod: every stop must exit 0 and the batches again be the uninterrupted run's. Real
// processes, real NATS.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, bytesOf, connectBus, nextOnSubject, decodeEnvelope, encodeEnvelope, ensureStreams, eventSubject, jetstream, jetstreamManager, resolveGroupRefs, startNatsServer, subjectFor, verifiedHeaders,
  type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import type { TrainingBatch, VerifiedGroup } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";
import { prng } from "../../bench/lib/payloads.js";
import { exited, startService, type Service } from "../../bench/lib/serve.js";
import { until } from "./support/wait.js";

const GROUPS = 50_000;
const KILLS = 20;
const G = 4;

/** Group i: lengths 1..48, 30% all-correct or all-wrong, policy version i / 1500 (4% sampled 3 versions back: stale). */
/** Each group's envelope and its summary header, as the verifier publishes them. */
function inputGroups(vocab: number): Array<{ data: Uint8Array; headers: ReturnType<typeof verifiedHeaders> }> {
  const rand = prng(18);
  return Array.from({ length: GROUPS }, (_, i) => {
    const uid = `g${String(i).padStart(5, "0")}`;
    const r = rand();
    const correct = Array.from({ length: G }, (_, k) => (r < 0.15 ? true : r < 0.3 ? false : k % 2 === 0));
    const version = Math.max(0, Math.floor(i / 1500) - (rand() < 0.04 ? 3 : 0));
    const vg: VerifiedGroup = {
      group: {
        uid,
        prompt: { uid, runId: "kills", task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from([1, 2])), answer: "", groupSize: G, cursor: 0n },
        responses: correct.map(() => {
          const len = 1 + Math.floor(rand() * 48);
          return { tokenIds: bytesOf(Int32Array.from({ length: len }, () => Math.floor(rand() * vocab))), logprobs: bytesOf(new Float32Array(len)), truncated: false, text: "" };
        }),
        policyVersion: BigInt(version),
        actor: "rollout-0",
      },
      rewards: correct.map((c) => (c ? 1 : 0)),
      correct,
    };
    return { data: encodeEnvelope("VerifiedGroup", vg).slice(), headers: verifiedHeaders(vg) };
  });
}

/** Every message on `subject`, in stream order (an ordered consumer, fetched until it runs dry). */
async function readSubject(js: JetStreamClient, stream: string, subject: string): Promise<Uint8Array[]> {
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  const out: Uint8Array[] = [];
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 2000, expires: 2000 });
    let n = 0;
    for await (const m of batch) {
      out.push(m.data);
      n++;
    }
    if (n === 0) return out;
  }
}

let dir: string;
let server: Awaited<ReturnType<typeof startNatsServer>>;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let modelDir: string;
let input: ReturnType<typeof inputGroups>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-kills-"));
  const model = createModelFromSpec({
    seed: 0,
    model: { model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true },
  });
  modelDir = join(dir, "model");
  writeModelDir(modelDir, model);
  input = inputGroups(model.config.vocabSize);
  server = await startNatsServer({ storeDir: join(dir, "nats") });
  nc = await connectBus({ url: server.url, name: "sampler-kills" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function configFor(run: string): RunConfig {
  return resolveConfig({
    run: { name: run, dir: join(dir, run), maxOffPolicySteps: 2 },
    nats: { url: server.url },
    model: { dir: modelDir },
    rollout: { groupSize: G, maxNewTokens: 48 },
    sampler: { mode: "stream", batchSize: 16, window: 512, snapshotEveryGroups: 500, snapshotEveryMs: 1000, ackWaitMs: 10_000 },
  });
}

async function publishInput(run: string): Promise<void> {
  const subject = subjectFor("verified", run);
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < input.length) {
      const i = next++;
      await js.publish(subject, input[i].data, { msgID: `${run}-${i}`, headers: input[i].headers });
    }
  }));
}

/** The batches on the run's subject, in stream order: index and uids. */
async function batchesOf(run: string): Promise<Array<{ index: number; uids: string[] }>> {
  return (await batchBodies(run)).map((b) => ({ index: Number(b.batchIndex), uids: b.groupRefs.map((g) => g.uid) }));
}

async function batchBodies(run: string): Promise<TrainingBatch[]> {
  return (await readSubject(js, STREAMS.batches.name, subjectFor("batches", run))).map((data) => decodeEnvelope(data, "TrainingBatch").body as TrainingBatch);
}

/** Each uid's verdict, from the run's `judged` events (the last one wins; replays repeat the same). */
/** Each group's last judgement in `run`'s judged events (a replay's judgement after the one it repeats). */
async function verdictsOf(run: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [uid, all] of await judgementsOf(run)) out.set(uid, all.at(-1)!.outcome);
  return out;
}

/** Every judgement of each group in `run`'s judged events, in stream order, with the sequence it judged. */
async function judgementsOf(run: string): Promise<Map<string, Array<{ outcome: string; seq: number }>>> {
  const out = new Map<string, Array<{ outcome: string; seq: number }>>();
  for (const data of await readSubject(js, STREAMS.events.name, eventSubject(run, "judged"))) {
    const e = decodeEnvelope(data, "RunEvent").body as { judgements: Array<{ uid: string; outcome: string; seq: number }> };
    for (const j of e.judgements) out.set(j.uid, [...(out.get(j.uid) ?? []), { outcome: j.outcome, seq: j.seq }]);
  }
  return out;
}

/** The groups whose last verdict in `run` differs from the reference's, each with every judgement it had there. */
async function differingVerdicts(reference: Map<string, string>, run: string) {
  const all = await judgementsOf(run);
  return [...reference].filter(([uid, v]) => all.get(uid)?.at(-1)?.outcome !== v).map(([uid, v]) => ({ uid, reference: v, judgements: all.get(uid) ?? [] }));
}

/** How far the sampler's consumer got: stream messages delivered (to it or to a killed incarnation). */
async function consumerState(run: string) {
  return jsm.consumers.info(STREAMS.verified.name, `sampler-${run}`);
}

/** What the sampler's incarnations logged: groups replayed from the unacked tail, batches found on the stream. */
interface Replays {
  restarts: number;
  replayedGroups: number[];
  batchesFoundOnStream: number;
}

/**
 * Runs the sampler over the input, stopped with `signal` at each of `stops` (groups into the stream) and
 * restarted. A SIGTERM must be a clean stop: the process exits 0, whatever it was doing.
 */
async function runSampler(run: string, stops: number[], signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<Replays> {
  const config = configFor(run);
  await publishInput(run);
  const first = (await nextOnSubject(jsm, STREAMS.verified.name, subjectFor("verified", run), 1))!.seq;
  const start = (i: number): Service => startService("sampler", config, { name: `sampler-${run}-${i}`, logDir: dir, readyTimeoutMs: 120_000 });
  let service = start(0);
  await service.ready;
  let restarts = 0;
  const logs = [service.logPath];
  for (const at of stops) {
    await until(`${run}: the sampler past group ${at}`, async () => {
      if (service.child.exitCode !== null) throw new Error(`the sampler exited on its own (${service.child.exitCode}); log ${service.logPath}`);
      return (await consumerState(run)).delivered.stream_seq - first + 1 >= at;
    }, 300_000);
    service.child.kill(signal);
    await exited(service.child);
    if (signal === "SIGTERM") expect({ code: service.child.exitCode, log: service.logPath }).toEqual({ code: 0, log: service.logPath });
    service = start(++restarts);
    logs.push(service.logPath);
    await service.ready;
  }
  await until(`${run}: every group judged and acked`, async () => {
    if (service.child.exitCode !== null) throw new Error(`the sampler exited on its own (${service.child.exitCode}); log ${service.logPath}`);
    const c = await consumerState(run);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  }, 600_000);
  await service.stop();
  const lines = logs.map((p) => readFileSync(p, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : [])));
  return {
    restarts,
    replayedGroups: lines.map((ls) => ls.find((l) => l.msg === "sampler ready")?.replayed ?? 0),
    batchesFoundOnStream: lines.flat().filter((l) => l.msg === "training batch already on the stream (replayed): not republished").length,
  };
}

describe(`sampler - SIGKILLed at ${KILLS} random points of a ${GROUPS}-group stream`, { timeout: 1_200_000 }, () => {
  it("emits the batches of an uninterrupted run on the same input, by uid and in order; nothing lost or trained twice", async () => {
    const rand = prng(2026);
    const kills = Array.from({ length: KILLS }, () => 500 + Math.floor(rand() * (GROUPS - 1000))).sort((a, b) => a - b);

    await runSampler("kills-reference", []);
    const replays = await runSampler("kills-killed", kills);
    expect(replays.restarts).toBe(KILLS);
    // The kills cut into work not yet covered by a snapshot: restarts replayed groups and re-emitted batches
    // that were already out (each found on the stream with the same content, not published again).
    expect(replays.replayedGroups.filter((n) => n > 0).length, JSON.stringify(replays)).toBeGreaterThanOrEqual(KILLS / 2);
    expect(replays.batchesFoundOnStream, JSON.stringify(replays)).toBeGreaterThan(0);

    const reference = await batchesOf("kills-reference");
    const killed = await batchesOf("kills-killed");
    // Enough batches that the comparison means something: about half the groups are kept, 16 per batch.
    expect(reference.length).toBeGreaterThan(GROUPS / 64);
    expect(reference.map((b) => b.index)).toEqual(reference.map((_, i) => i));
    expect(killed).toEqual(reference);
    for (const batches of [reference, killed]) {
      const uids = batches.flatMap((b) => b.uids);
      expect(new Set(uids).size).toBe(uids.length); // no group in two batches
    }

    const verdicts = { reference: await verdictsOf("kills-reference"), killed: await verdictsOf("kills-killed") };
    expect(verdicts.reference.size).toBe(GROUPS);
    expect(verdicts.killed.size).toBe(GROUPS); // every group judged: none lost
    expect(await differingVerdicts(verdicts.reference, "kills-killed")).toEqual([]);
    const stale = [...verdicts.reference.values()].filter((v) => v === "stale").length;
    expect(stale).toBeGreaterThan(0); // the moving policy version made some groups stale, the same ones in both
    const kept = new Set(reference.flatMap((b) => b.uids));
    for (const uid of kept) expect(["short", "long", "unfiltered", "warm-up-kept"]).toContain(verdicts.killed.get(uid));
    // The batches name their groups by LSPO_VERIFIED sequence: every reference reads back (as the learner
    // reads it) the body of the group it names, whose summary the sampler judged.
    for (const b of await batchBodies("kills-killed")) {
      expect(b.groups).toEqual([]);
      const bodies = await resolveGroupRefs(jsm, b.groupRefs);
      expect(bodies.map((g) => g.group!.uid)).toEqual(b.groupRefs.map((r) => r.uid));
    }
  });

  it("stopped by SIGTERM at 10 random points, it exits cleanly each time and emits the uninterrupted run's batches", async () => {
    // Runs after the test above, whose uninterrupted run is the reference.
    const rand = prng(1812);
    const stops = Array.from({ length: 10 }, () => 500 + Math.floor(rand() * (GROUPS - 1000))).sort((a, b) => a - b);
    const replays = await runSampler("kills-terminated", stops, "SIGTERM");
    expect(replays.restarts).toBe(10);
    const reference = await batchesOf("kills-reference");
    expect(reference.length).toBeGreaterThan(GROUPS / 64);
    expect(await batchesOf("kills-terminated")).toEqual(reference);
    const verdicts = { reference: await verdictsOf("kills-reference"), terminated: await verdictsOf("kills-terminated") };
    expect(verdicts.terminated.size).toBe(GROUPS);
    // (A miss in a fresh-clone CI: g27647, judged "long" in the reference. Each differing group now comes with
    // every judgement it had, so the next one says which judgement came last.)
    expect(await differingVerdicts(verdicts.reference, "kills-terminated")).toEqual([]);
  });
});
