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

// Every metric record of the run (updates and swaps), as they arrive.
const metricRecords: Array<Record<string, any>> = [];
const updates = () => metricRecords.filter((r) => r.event === "update");

describe("learner - a hot swap survives SIGKILL", { timeout: 300_000 }, () => {
  it("swap accepted at step 2, learner killed before step 3: after the restart step 3 trains with GSPO", async () => {
    const run = "swapkill";
    const publish = (from: number, to: number) => fixture.publishBatches(run, from, to);
    const dir = mkdtempSync(join(tmpdir(), "lspo-swapkill-run-"));
    await fixture.readMetrics(run, (m) => void metricRecords.push(m));
    await publish(0, 2);
    const first = fixture.startLearner(run, dir);
    await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002")) && updates().length >= 2);
    const registry = await ActorRegistry.open(fixture.bus.nc, { runId: run });
    const learner = actorHandle(registry, LearnerServiceService, "learner");
    const res = await learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: {} } });
    learner.close();
    expect(Number(res.effectiveStep)).toBe(3);
    first.kill("SIGKILL"); // the swap lives only in KV now: the checkpoint at step 2 predates it
    await exited(first);
    const stateAt2 = JSON.parse(readFileSync(join(dir, "checkpoints/step-000002/state.json"), "utf8"));
    expect(stateAt2.algorithm.active.name).toBe("dapo");
    expect(stateAt2.algorithm.pending).toBeNull();

    await publish(2, STEPS);
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
    const publish = (from: number, to: number) => fixture.publishBatches(run, from, to);
    const dir = mkdtempSync(join(tmpdir(), "lspo-swapcheckpoint-run-"));
    const records: Array<Record<string, any>> = [];
    await fixture.readMetrics(run, (m) => void records.push(m));
    const updatesOfRun = () => records.filter((r) => r.event === "update");
    await publish(0, 2);
    const first = fixture.startLearner(run, dir);
    await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002")) && updatesOfRun().length >= 2);
    const registry = await ActorRegistry.open(fixture.bus.nc, { runId: run });
    const learner = actorHandle(registry, LearnerServiceService, "learner");
    const swapped = await learner.call.swapAlgorithm({ spec: { name: "gspo", overrides: {} } });
    expect(Number(swapped.effectiveStep)).toBe(3);
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

    await publish(2, STEPS);
    const second = fixture.startLearner(run, dir);
    await until("steps 3 and 4 after the restart", () => updatesOfRun().filter((u) => u.step >= 3).length >= 2);
    second.kill("SIGTERM");
    await exited(second);
    expect(updatesOfRun().filter((u) => u.step >= 3).map((u) => [u.step, u.algorithm])).toEqual([[3, "gspo"], [4, "gspo"]]);
    expect(records.filter((r) => r.event === "swap").map((r) => [r.step, r.from, r.to])).toEqual([[3, "dapo", "gspo"]]);
  });
});
