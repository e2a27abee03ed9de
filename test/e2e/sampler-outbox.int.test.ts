// The sampler's outbox end to end: the sampler is SIGKILLed after it persisted a decision that completed a
// training batch and before it published anything of it (the window where a replay used to judge the group
// again, possibly otherwise, reuse the batch index and have JetStream drop the new batch as a duplicate).
// The restarted sampler publishes what its snapshot owes before judging anything new: the batch arrives
// once, with the content that was decided, and the ledger accounts for every uid. Real processes, real NATS.
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

describe("sampler - killed between persisting a batch and publishing it", { timeout: 240_000 }, () => {
  it("the restart publishes the owed batch once, as decided; nothing lost or trained twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-outbox-"));
    const config = loadConfigFile(join(root, "configs/smoke.yaml"), ["run.name=sampler-outbox", `run.dir=${dir}`, "run.steps=4", "run.timeoutS=150", "sampler.ackWaitMs=4000"]);
    process.env.LSPO_FAULT_SAMPLER_KILL_AT_BATCH = "2";
    const s = await train(config, { quiet: true });

    expect(s.steps).toBe(4);
    expect(s.actors.find((a) => a.kind === "sampler")!.restarts).toBe(1);
    expect(s.ledger.lost, JSON.stringify(s.ledger)).toBe(0);
    expect(s.ledger.duplicates).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.duplicates).toBe(0);

    const log = readFileSync(join(dir, "logs/sampler-0.log"), "utf8").trim().split("\n").flatMap((l) => (l.startsWith("{") ? [JSON.parse(l)] : []));
    // The restart found the batch owed and published it before judging anything new.
    const restored = log.find((r) => r.msg === "restored sampler snapshot");
    expect(restored?.owed).toBeGreaterThan(0);
    const published = log.filter((r) => r.msg === "published training batch").map((r) => r.batch);
    expect(published).toEqual([...new Set(published)]); // each index published once
    expect(published.slice(0, 2)).toEqual([0, 1].map((i) => published[0] + i));

    // The batch the learner trained under that index holds the uids the ledger recorded for it.
    const events = jsonl(join(dir, "events.jsonl"));
    const ledgerBatches = new Map<number, string[]>(events.filter((e) => e.kind === "ledger" && e.body.type === "batch").map((e) => [e.body.index, e.body.uids]));
    const killedAt = published[1];
    expect(ledgerBatches.get(killedAt)?.length).toBe(config.sampler.batchSize);
    const judged = jsonl(join(dir, "sampler.jsonl"));
    for (const uid of ledgerBatches.get(killedAt)!) {
      // Judged once (kept): the redelivery after the restart is a "duplicate", never a second verdict.
      const verdicts = judged.filter((j) => j.uid === uid && j.outcome !== "duplicate").map((j) => j.outcome);
      expect(verdicts, uid).toHaveLength(1);
    }
  });
});
