// A nats-server killed before it wrote its consumer's state forgets what it delivered, and what was acked: on
// its restart it delivers those messages again as first deliveries (deliveryCount 1). The server writes a
// consumer's state at most every 100 ms, so a SIGKILL under load loses the last of it. Here the loss is made
// certain (support/forget.ts): the sampler's consumer state is kept once 40 groups are judged and acked, 40 more
// are judged and acked, and the server is frozen, given the kept state back, killed and started again. The
// running sampler (`lspo serve sampler`) must ack those 40 without judging them again: no verdict changes, no
// "duplicate" counted for a group the verifier sent once, no new batch. Real processes, real NATS.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  STREAMS, connectBus, ensureStreams, eventSubject, jetstream, jetstreamManager, startNatsServer, subjectFor,
  type JetStreamClient, type JetStreamManager, type NatsConnection, type NatsServer,
} from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import { SamplerServiceService } from "@lspo/proto";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { writeModelDir } from "@lspo/tasks";
import { startService, type Service } from "../../bench/lib/serve.js";
import { keepConsumerState } from "./support/forget.js";
import { readAll, trainingBatches, verifiedGroup } from "./support/verified-groups.js";
import { until } from "./support/wait.js";

const RUN = "forgotten";
const G = 4;
const FIRST = 40;
const SECOND = 40;

let dir: string;
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let sampler: Service | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-forgotten-"));
  server = await startNatsServer({ storeDir: join(dir, "nats") });
  nc = await connectBus({ url: server.url, name: "sampler-forgotten" });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
}, 60_000);

afterAll(async () => {
  await sampler?.stop().catch(() => undefined);
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Group i as the verifier publishes it: mixed correctness (most kept), lengths varying with i. */
function verified(i: number): ReturnType<typeof verifiedGroup> {
  const correct = Array.from({ length: G }, (_, k) => (i % 5 === 0 ? true : k % 2 === 0));
  return verifiedGroup(RUN, `f${String(i).padStart(3, "0")}`, correct, (k) => 1 + ((i * 7 + k * 13) % 40));
}

async function publish(from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    const g = verified(i);
    await js.publish(subjectFor("verified", RUN), g.data, { msgID: `${RUN}-${i}`, headers: g.headers });
  }
}

const consumerName = `sampler-${RUN}`;
const consumerInfo = () => jsm.consumers.info(STREAMS.verified.name, consumerName);

/** Until the sampler's consumer has acked everything up to stream sequence `seq`. */
async function ackedThrough(seq: number): Promise<void> {
  await until(`the sampler's acks through seq ${seq}`, async () => {
    if (sampler!.child.exitCode !== null) throw new Error(`the sampler exited (${sampler!.child.exitCode}); log ${sampler!.logPath}`);
    const c = await consumerInfo().catch(() => null); // null: the server not back yet
    return c !== null && c.ack_floor.stream_seq === seq && c.num_ack_pending === 0 && c.num_pending === 0;
  }, 60_000);
}

const read = <T>(stream: string, subject: string, kind: string) => readAll<T>(js, stream, subject, kind);
const batches = () => trainingBatches(js, RUN);
const judgements = async () => (await read<{ judgements: Array<{ uid: string; outcome: string; seq: number }> }>(STREAMS.events.name, eventSubject(RUN, "judged"), "RunEvent")).flatMap((e) => e.judgements);

describe("sampler - the server forgets deliveries it made (SIGKILLed before writing its consumer state)", { timeout: 180_000 }, () => {
  it("acks the groups delivered again without judging them again: same verdicts, same batches, no duplicates", async () => {
    const model = createModelFromSpec({
      seed: 0,
      model: { model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true },
    });
    writeModelDir(join(dir, "model"), model);
    const config = resolveConfig({
      run: { name: RUN, dir: join(dir, RUN) },
      nats: { url: server.url },
      model: { dir: join(dir, "model") },
      rollout: { groupSize: G, maxNewTokens: 48 },
      // A long ack wait: nothing comes back but what the server forgot.
      sampler: { mode: "stream", batchSize: 4, window: 32, snapshotEveryGroups: 10, snapshotEveryMs: 300, ackWaitMs: 120_000 },
    });
    sampler = startService("sampler", config, { name: "sampler-0", logDir: dir, readyTimeoutMs: 60_000 });
    await sampler.ready;

    await publish(0, FIRST);
    const firstSeq = (await consumerInfo()).delivered.stream_seq - FIRST + 1;
    await ackedThrough(firstSeq + FIRST - 1);
    const kept = await keepConsumerState(server, STREAMS.verified.name, consumerName);

    await publish(FIRST, FIRST + SECOND);
    const lastSeq = firstSeq + FIRST + SECOND - 1;
    await ackedThrough(lastSeq);
    const before = { batches: await batches(), judgements: await judgements() };
    expect(before.judgements).toHaveLength(FIRST + SECOND);
    expect(before.batches.length).toBeGreaterThan(4);

    await kept.forget();

    // The restarted server delivers the second 40 again, as first deliveries; the sampler acks each.
    await ackedThrough(lastSeq);
    // Nothing judged again, nothing new emitted.
    const after = { batches: await batches(), judgements: await judgements() };
    expect(after.judgements.filter((j) => j.outcome === "duplicate")).toEqual([]);
    expect(after.judgements).toEqual(before.judgements);
    expect(after.batches).toEqual(before.batches);
    expect(sampler.child.exitCode).toBeNull();

    // They came back as first deliveries, every one: what the server forgot.
    const log = readFileSync(sampler.logPath, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));
    const redelivered = log.filter((l) => l.msg === "redelivery of a group judged before: acked, not judged again");
    expect(redelivered.map((l) => l.seq)).toEqual(Array.from({ length: SECOND }, (_, i) => firstSeq + FIRST + i));
    expect(new Set(redelivered.map((l) => l.deliveryCount))).toEqual(new Set([1]));
    // And counted in the sampler's status.
    const handle = actorHandle(await ActorRegistry.open(nc, { runId: RUN }), SamplerServiceService, "sampler-0", { deadlineMs: 2000 });
    let counters: Record<string, number> = {};
    await until("the sampler's status", async () => {
      counters = ((await handle.call.status({}).catch(() => null))?.status?.counters ?? {}) as Record<string, number>;
      return counters.redeliveredJudged !== undefined;
    }, 30_000);
    expect(counters.redeliveredJudged).toBe(SECOND);
  });
});
