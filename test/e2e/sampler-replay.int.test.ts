// The sampler's replay end to end, in a whole run: the sampler is SIGKILLed right after it published a
// training batch, before a snapshot covered the groups that made it. JetStream's duplicate window is 1 s
// here, shorter than the restart, so nothing but the sampler itself keeps that batch from going out twice:
// the restart restores the last snapshot, judges the unacked tail again in stream order, emits the same
// batch, finds it on the stream with the same content and does not republish it. Real processes, real NATS.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "@lspo/config";
import { train } from "@lspo/controller";

const root = resolve(import.meta.dirname, "../..");
const jsonl = (file: string) => readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));

afterEach(() => {
  delete process.env.LSPO_FAULT_SAMPLER_KILL_AT_BATCH;
});

describe("sampler - killed after publishing a batch, restarted after the duplicate window", { timeout: 240_000 }, () => {
  it("the replay emits the same batch and republishes nothing; nothing lost or trained twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-replay-"));
    const config = loadConfigFile(join(root, "configs/smoke.yaml"), [
      "run.name=sampler-replay", `run.dir=${dir}`, "run.steps=4", "run.timeoutS=150", "sampler.ackWaitMs=8000", "sampler.snapshotEveryMs=4000",
      "sampler.snapshotEveryGroups=1000", "bus.duplicateWindowS=1",
    ]);
    process.env.LSPO_FAULT_SAMPLER_KILL_AT_BATCH = "2";
    const s = await train(config, { quiet: true });

    expect(s.steps).toBe(4);
    expect(s.actors.find((a) => a.kind === "sampler")!.restarts).toBe(1);
    expect(s.ledger.lost, JSON.stringify(s.ledger)).toBe(0);
    expect(s.ledger.duplicates).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.duplicates).toBe(0);

    const log = readFileSync(join(dir, "logs/sampler-0.log"), "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));
    // The restart found the killed incarnation's batches on the stream and replayed its unacked tail.
    const restored = log.find((r) => r.msg === "restored sampler snapshot");
    expect(restored?.batchesSinceSnapshot).toBeGreaterThan(0);
    expect(log.find((r) => r.msg === "sampler ready" && r.replayed > 0)).toBeDefined();
    const replayedBatches = log.filter((r) => r.msg === "training batch already on the stream (replayed): not republished").map((r) => r.batch);
    expect(replayedBatches.length).toBeGreaterThan(0);
    const published = log.filter((r) => r.msg === "published training batch").map((r) => r.batch);
    expect(published).toEqual([...new Set(published)]); // each index published once, none as a duplicate
    expect(log.some((r) => r.msg === "training batch was already published (a replay inside the duplicate window)")).toBe(false);
    for (const b of replayedBatches) expect(published).toContain(b);
    // The replay came later than the duplicate window: JetStream would have taken a second copy.
    const killedPid = log.find((r) => r.msg === "sampler ready")!.pid;
    const lastBeforeKill = log.filter((r) => r.msg === "published training batch" && r.pid === killedPid).at(-1)!.time;
    const firstReplayed = log.find((r) => r.msg === "training batch already on the stream (replayed): not republished")!.time;
    expect(firstReplayed - lastBeforeKill).toBeGreaterThan(config.bus.duplicateWindowS * 1000);

    // One ledger record per index, and one verdict per uid (a replayed judgement, beyond the window, is
    // recorded again, with the same verdict).
    const events = jsonl(join(dir, "events.jsonl"));
    const ledgerBatches = events.filter((e) => e.kind === "ledger" && e.body.type === "batch");
    expect(new Set(ledgerBatches.map((e) => e.body.index)).size).toBe(ledgerBatches.length);
    const judged = jsonl(join(dir, "sampler.jsonl"));
    for (const e of ledgerBatches) {
      expect(e.body.uids).toHaveLength(config.sampler.batchSize);
      for (const uid of e.body.uids) {
        const verdicts = new Set(judged.filter((j) => j.uid === uid && j.outcome !== "duplicate").map((j) => j.outcome));
        expect([...verdicts], uid).toHaveLength(1);
      }
    }
  });
});
