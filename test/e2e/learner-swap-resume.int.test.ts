// A hot swap survives a learner SIGKILL: the swap is written to KV when SwapAlgorithm accepts it; the learner,
// killed right after (before any checkpoint holds the swap) and restarted from its last checkpoint, applies
// it at the same update, so the swapped algorithm trains the next update; metrics (what summary.json lists)
// and the next checkpoint agree. And a checkpoint asked for over gRPC (Checkpoint) while a swap is pending
// saves it as pending: a learner restarted from that checkpoint with the swap log gone from KV still applies
// it. Real processes (`lspo serve learner`), real NATS, real ORT.
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { KV_BUCKETS, openKv } from "@lspo/bus";
import { LearnerServiceService } from "@lspo/proto";
import { learnerFixture } from "./support/learner-fixture.js";
import { exited, until } from "./support/wait.js";

const STEPS = 4;
const fixture = learnerFixture(STEPS);

/**
 * A learner of `run` trained to its checkpoint at step 2, then asked to swap to GSPO (effective at step 3):
 * the run's directory, its metric records as they arrive, the learner process and a handle to it.
 */
async function swappedAtStep2(run: string) {
  const dir = mkdtempSync(join(tmpdir(), `lspo-${run}-run-`));
  const records: Array<Record<string, any>> = [];
  await fixture.readMetrics(run, (m) => void records.push(m));
  const updates = () => records.filter((r) => r.event === "update");
  await fixture.publishBatches(run, 0, 2);
  const learnerProcess = fixture.startLearner(run, dir);
  await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002")) && updates().length >= 2);
  const learner = actorHandle(await ActorRegistry.open(fixture.bus.nc, { runId: run }), LearnerServiceService, "learner");
  const swapped = await learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: {} } });
  expect(Number(swapped.effectiveStep)).toBe(3);
  return { dir, records, updates, learnerProcess, learner };
}

describe("learner - a hot swap survives SIGKILL, and a lost swap log once a checkpoint holds it", { timeout: 300_000 }, () => {
  it("swap accepted at step 2, learner killed before step 3: after the restart step 3 trains with GSPO", async () => {
    const run = "swapkill";
    const { dir, records: metricRecords, updates, learnerProcess: first, learner } = await swappedAtStep2(run);
    learner.close();
    first.kill("SIGKILL"); // the swap lives only in KV now: the checkpoint at step 2 predates it
    await exited(first);
    const stateAt2 = JSON.parse(readFileSync(join(dir, "checkpoints/step-000002/state.json"), "utf8"));
    expect(stateAt2.algorithm.active.name).toBe("dapo");
    expect(stateAt2.algorithm.pending).toBeNull();

    await fixture.publishBatches(run, 2, STEPS);
    const second = fixture.startLearner(run, dir);
    await until("steps 3 and 4 after the restart", () => updates().filter((u) => u.step >= 3).length >= 2);
    await until("the checkpoint at step 4", () => existsSync(join(dir, "checkpoints/step-000004/state.json")));
    second.kill("SIGTERM");
    await exited(second);

    const after = updates().filter((u) => u.step >= 3);
    expect(after.map((u) => [u.step, u.algorithm])).toEqual([[3, "gspo"], [4, "gspo"]]);
    const swaps = metricRecords.filter((r) => r.event === "swap");
    expect(swaps.map((s) => [s.step, s.from, s.to])).toEqual([[3, "dapo", "gspo"]]);
    const stateAt4 = JSON.parse(readFileSync(join(dir, "checkpoints/step-000004/state.json"), "utf8"));
    expect(stateAt4.algorithm.active.name).toBe("gspo");
    expect(stateAt4.algorithm.events.map((e: { step: number; to: string }) => [e.step, e.to])).toEqual([[3, "gspo"]]);
  });

  it("a Checkpoint call while a swap is pending saves it as pending: restarted from it with the swap log gone, step 3 trains with GSPO", async () => {
    const run = "swapcheckpoint";
    const { dir, records, updates, learnerProcess: first, learner } = await swappedAtStep2(run);
    // On demand, at step 2 again: the checkpoint the schedule wrote before the swap is replaced by one holding it.
    const checkpoint = await learner.call.checkpoint({});
    learner.close();
    expect(Number(checkpoint.step)).toBe(2);
    expect(checkpoint.path).toBe(join(dir, "checkpoints/step-000002"));
    const state = JSON.parse(readFileSync(join(checkpoint.path, "state.json"), "utf8"));
    expect(state.algorithm.active.name).toBe("dapo");
    expect(state.algorithm.pending).toMatchObject({ name: "gspo" });
    first.kill("SIGKILL");
    await exited(first);

    // The swap log goes (as with a lost NATS store): the checkpoint is all that holds the swap now.
    const kv = await openKv(fixture.bus.nc, KV_BUCKETS.learner);
    await kv.purge(`${run}.swaps`);
    expect(await kv.get(`${run}.swaps`).then((e) => e?.operation)).toBe("PURGE");

    await fixture.publishBatches(run, 2, STEPS);
    const second = fixture.startLearner(run, dir);
    await until("steps 3 and 4 after the restart", () => updates().filter((u) => u.step >= 3).length >= 2);
    second.kill("SIGTERM");
    await exited(second);
    expect(updates().filter((u) => u.step >= 3).map((u) => [u.step, u.algorithm])).toEqual([[3, "gspo"], [4, "gspo"]]);
    expect(records.filter((r) => r.event === "swap").map((r) => [r.step, r.from, r.to])).toEqual([[3, "dapo", "gspo"]]);
  });
});
