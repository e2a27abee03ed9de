// Fault 5: the newest checkpoint is corrupt (a flipped byte in its weights; the long form also truncates
// the next one's optimizer state). Resume detects it by checksum, says so, and falls back to the newest
// checkpoint that verifies; training continues from that exact step, replays the batches after it with
// the same losses, and the controller continues the same data cursor.
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { latestValidCheckpoint, listCheckpoints } from "@lspo/learner";
import { train } from "@lspo/controller";
import { LONG, chaosConfig, countsOf, expectAccounted, metricsOf, updatesOf } from "./support/chaos.js";

/** Flips one byte in the middle of a file: it still parses, only its checksum can tell. */
function flipByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[bytes.length >> 1] ^= 0x55;
  writeFileSync(file, bytes);
}

describe("chaos - corrupt newest checkpoint", { timeout: 300_000 }, () => {
  it("falls back to the newest valid checkpoint and continues from its step and data cursor", async () => {
    const config = chaosConfig("chaos-corrupt", ["run.steps=6", "learner.checkpointEvery=2"]);
    const dir = config.run.dir;
    const s1 = await train(config, { quiet: true });
    expectAccounted(s1);
    expect(listCheckpoints(dir).map((d) => d.split("/").pop())).toEqual(["step-000002", "step-000004", "step-000006"]);

    // Corrupt step 6 (and, in the long form, step 4 as well: the fallback goes two deep).
    flipByte(join(dir, "checkpoints/step-000006/model-00001-of-00001.safetensors"));
    if (LONG) truncateSync(join(dir, "checkpoints/step-000004/optimizer-00001-of-00001.safetensors"), 100);
    const fallback = LONG ? 2 : 4;
    const probe = latestValidCheckpoint(dir);
    expect(probe.checkpoint!.state.step).toBe(fallback);
    expect(probe.skipped[0]).toMatch(/step-000006\/model-00001-of-00001\.safetensors: checksum mismatch \(corrupt checkpoint\)/);
    if (LONG) expect(probe.skipped[1]).toMatch(/step-000004\/optimizer-00001-of-00001\.safetensors: checksum mismatch/);

    const before = updatesOf(dir);
    const s2 = await train({ ...config, run: { ...config.run, steps: 8 } }, { quiet: true, resume: dir });
    const after = updatesOf(dir).slice(before.length);
    const resumes = metricsOf(dir).filter((r) => r.event === "resume");
    console.log(JSON.stringify({ scenario: "checkpoint-corrupt", fallback, resumes, summary: countsOf(s2) }));

    // The learner said what it skipped and why, and resumed from the fallback.
    const learnerResume = resumes.find((r) => "checkpoint" in r)!;
    expect(learnerResume.step).toBe(fallback);
    expect((learnerResume.skipped as string[]).join("\n")).toMatch(/step-000006\/model-00001-of-00001\.safetensors: checksum mismatch/);
    const warned = readFileSync(join(dir, "logs/learner-0.log"), "utf8").split("\n").filter((l) => l.includes('"skipped an invalid checkpoint"'));
    expect(warned.length).toBe(LONG ? 2 : 1);
    // The controller continued the data cursor where the first run left it.
    expect(resumes.find((r) => "from" in r)).toMatchObject({ from: "nats", requested: s1.requested });
    // From the fallback step on: the same batches with the same losses, then new steps up to 8.
    expect(after.map((u) => u.step)).toEqual(Array.from({ length: 8 - fallback }, (_, i) => fallback + 1 + i));
    const first = new Map(before.map((u) => [u.step, u]));
    for (const u of after.filter((x) => (x.step as number) <= 6)) {
      expect(u.batchIndex, `batch of step ${u.step}`).toBe(first.get(u.step)!.batchIndex);
      expect(u.loss, `loss of step ${u.step}`).toBe(first.get(u.step)!.loss);
    }
    expect(s2.steps).toBe(8);
    expectAccounted(s2);
    // The corrupt checkpoint was replaced by a good one of the same step.
    const final = latestValidCheckpoint(dir);
    expect(final.checkpoint!.state.step).toBe(8);
    expect(final.skipped).toEqual([]);
    expect(listCheckpoints(dir).map((d) => d.split("/").pop())).toEqual(["step-000004", "step-000006", "step-000008"]);
  });
});
