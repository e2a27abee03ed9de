// A learner SIGKILLed mid-run and restarted resumes from its last checkpoint and replays the batches after
// it: its next updates match an uninterrupted learner's bit for bit (same batches, same seed, same weights
// published). Real processes (`lspo serve learner`), real NATS, real ORT.
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KV_BUCKETS, kvGet, openKv } from "@lspo/bus";
import type { WeightsRef } from "@lspo/proto";
import { learnerFixture } from "./support/learner-fixture.js";
import { exited, until } from "./support/wait.js";

const STEPS = 6;
const fixture = learnerFixture(STEPS);

// Each run's update records, as they arrive.
const received = new Map<string, Array<Record<string, any>>>();
async function collectUpdates(run: string): Promise<void> {
  const list: Array<Record<string, any>> = [];
  received.set(run, list);
  await fixture.readMetrics(run, (m) => void (m.event === "update" && list.push(m)));
}
const updates = (run: string) => received.get(run) ?? [];

describe("learner - resume from checkpoint", { timeout: 300_000 }, () => {
  it("continues from the exact step with the same losses and weights as an uninterrupted run", async () => {
    await collectUpdates("straight");
    await collectUpdates("resumed");
    await fixture.publishBatches("straight", 0, STEPS);
    const straightDir = mkdtempSync(join(tmpdir(), "lspo-straight-"));
    const a = fixture.startLearner("straight", straightDir);
    await until("6 straight updates", () => updates("straight").length >= STEPS);
    a.kill("SIGTERM");
    await exited(a);

    const resumedDir = mkdtempSync(join(tmpdir(), "lspo-resumed-"));
    // Three batches only: the learner checkpoints at step 2, makes step 3, and is killed before the rest exist.
    await fixture.publishBatches("resumed", 0, 3);
    const b1 = fixture.startLearner("resumed", resumedDir);
    await until("a checkpoint at step 2 and a third update", () => existsSync(join(resumedDir, "checkpoints/step-000002")) && updates("resumed").length >= 3);
    b1.kill("SIGKILL");
    await exited(b1);
    const before = updates("resumed").length;
    expect(before).toBe(3);
    await fixture.publishBatches("resumed", 3, STEPS);
    const b2 = fixture.startLearner("resumed", resumedDir);
    await until("the resumed learner to finish", () => updates("resumed").length >= before + (STEPS - 2));
    b2.kill("SIGTERM");
    await exited(b2);

    const straight = updates("straight");
    const resumed = updates("resumed").slice(before);
    // Resumed at step 2 (the checkpoint), it redoes steps 3..6 on batches 2..5.
    expect(resumed.map((u) => u.step)).toEqual([3, 4, 5, 6]);
    expect(resumed.map((u) => u.batchIndex)).toEqual([2, 3, 4, 5]);
    expect(resumed.map((u) => u.loss)).toEqual(straight.slice(2).map((u) => u.loss));
    expect(resumed.map((u) => u.gradNorm)).toEqual(straight.slice(2).map((u) => u.gradNorm));
    const kv = await openKv(fixture.bus.nc, KV_BUCKETS.weights);
    const wa = (await kvGet<WeightsRef>(kv, "straight", "WeightsRef"))!.value;
    const wb = (await kvGet<WeightsRef>(kv, "resumed", "WeightsRef"))!.value;
    expect(Number(wb.version)).toBe(STEPS);
    expect(wb.sha256).toBe(wa.sha256);
  });
});
