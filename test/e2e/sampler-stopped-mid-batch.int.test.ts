// The sampler stopped while a training batch is on its way to NATS. Its connection closes under the batch's
// publish, which then fails: that is the stop's doing, not a failure of the service, so it exits 0 and logs no
// loop failure. The batch, never stored, is the restart's to emit: the replay from the last snapshot publishes
// it, once. The sampler reaches NATS through a proxy that holds back everything from the moment the sampler
// sends the batch's ledger record (the first of a batch's two publishes). Real processes, real NATS.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectBus, ensureStreams, jetstream, jetstreamManager, startNatsServer, subjectFor, type JetStreamClient, type NatsConnection, type NatsServer } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import { writeModelDir } from "@lspo/tasks";
import { startService, type Service } from "../../bench/lib/serve.js";
import { startBlackHoleProxy, type BlackHoleProxy } from "../../services/controller/test/support/black-hole-proxy.js";
import { trainingBatches, verifiedGroup } from "./support/verified-groups.js";
import { until } from "./support/wait.js";

const RUN = "stopped-mid-batch";
const G = 4;
const GROUPS = 16;

let dir: string;
let server: NatsServer;
let proxy: BlackHoleProxy;
let nc: NatsConnection;
let js: JetStreamClient;
const samplers: Service[] = [];
/** The index of the batch whose ledger record the proxy caught. */
let caughtIndex: number | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-stopped-mid-batch-"));
  server = await startNatsServer({ storeDir: join(dir, "nats") });
  nc = await connectBus({ url: server.url, name: "stopped-mid-batch" });
  js = jetstream(nc);
  await ensureStreams(await jetstreamManager(nc));
  proxy = await startBlackHoleProxy(Number(new URL(server.url).port), {
    cutBefore: (chunk) => {
      const m = /sampler-batch-(\d+)/.exec(chunk.toString("latin1"));
      if (m) caughtIndex = Number(m[1]);
      return m !== null;
    },
  });
}, 60_000);

afterAll(async () => {
  for (const s of samplers) await s.stop().catch(() => undefined);
  await proxy?.close();
  await nc?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Group i as the verifier publishes it: half its samples correct (kept by the accuracy filter), lengths varying with i. */
const verified = (i: number) => verifiedGroup(RUN, `m${String(i).padStart(3, "0")}`, Array.from({ length: G }, (_, k) => k % 2 === 0), (k) => 2 + ((i * 5 + k * 3) % 30));
const batches = () => trainingBatches(js, RUN);

const logLines = (s: Service) => readFileSync(s.logPath, "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l) as { msg: string }] : []));

describe("sampler - stopped while a batch is on its way", { timeout: 180_000 }, () => {
  it("exits 0 without a loop failure, and the restart's replay publishes the batch once", async () => {
    const model = createModelFromSpec({
      seed: 0,
      model: { model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 256, tie_word_embeddings: true },
    });
    writeModelDir(join(dir, "model"), model);
    const config = (url: string) =>
      resolveConfig({
        run: { name: RUN, dir: join(dir, RUN) },
        nats: { url },
        model: { dir: join(dir, "model") },
        rollout: { groupSize: G, maxNewTokens: 48 },
        // No snapshot before the stop: the restart replays every group, and emits the caught batch again. No
        // length filter: every group that is half correct is kept.
        sampler: { mode: "stream", batchSize: 4, window: 32, lengthFilter: false, snapshotEveryGroups: 1000, snapshotEveryMs: 60_000, ackWaitMs: 120_000 },
      });
    const first = startService("sampler", config(`nats://127.0.0.1:${proxy.port}`), { name: "sampler-a", logDir: dir, readyTimeoutMs: 60_000 });
    samplers.push(first);
    await first.ready;

    for (let i = 0; i < GROUPS; i++) {
      const g = verified(i);
      await js.publish(subjectFor("verified", RUN), g.data, { msgID: `${RUN}-${i}`, headers: g.headers });
    }
    await until("the proxy to catch a batch's ledger record", () => proxy.isCut, 60_000);
    expect(await batches(), "the caught batch never reached the stream").toEqual([]);

    // The stop is bounded though NATS never answers again (each wait on it is): 60 s is far past those bounds.
    const stopped = await Promise.race([first.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 60_000))]);
    expect(stopped, `the sampler did not exit within 60 s of its SIGTERM; log ${first.logPath}`).toBe(true);
    expect(first.child.exitCode, readFileSync(first.logPath, "utf8").slice(-4000)).toBe(0);
    const lines = logLines(first);
    expect(lines.filter((l) => l.msg === "sampler loop failed")).toEqual([]);

    const second = startService("sampler", config(server.url), { name: "sampler-b", logDir: dir, readyTimeoutMs: 60_000 });
    samplers.push(second);
    await second.ready;
    // Every group is kept (half correct, no length filter): GROUPS / 4 batches.
    await until("the restart's batches", async () => (await batches()).length >= GROUPS / 4, 60_000);
    const out = await batches();
    expect(out.map((b) => b.index)).toEqual(out.map((_, k) => out[0].index + k)); // each index once, in order
    expect(out.map((b) => b.index)).toContain(caughtIndex);
    expect(new Set(out.flatMap((b) => b.uids)).size).toBe(GROUPS); // no group in two batches
    expect(logLines(second).filter((l) => l.msg === "sampler loop failed")).toEqual([]);
  });
});
