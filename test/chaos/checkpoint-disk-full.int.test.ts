// Fault 4: the checkpoint directory runs out of space mid-run. Where this process may mount (root), the
// checkpoints live on a 4 MB tmpfs that is filled to the last byte once the first checkpoint is written:
// the kernel's own ENOSPC. Elsewhere the learner's test-only hook LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP
// raises the same error mid-write. Either way the learner must fail the write loudly (error log + a
// `checkpoint-failed` metric), keep training, leave no half-written checkpoint, and keep the last good
// one; a run resumed from it after space is freed continues from that exact step, on the same batches,
// with the same losses, and from the same data cursor.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { latestValidCheckpoint, listCheckpoints } from "@lspo/learner";
import { train, type RunningRun } from "@lspo/controller";
import { chaosConfig, countsOf, expectAccounted, metricsOf, updatesOf } from "./support/chaos.js";

const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted) spawnSync("umount", ["-l", dir]);
});

function mountTinyTmpfs(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  if (process.env.LSPO_CHAOS_NO_MOUNT) return false; // to exercise the injected path where mount works
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { encoding: "utf8" });
  if (r.status === 0) mounted.push(dir);
  return r.status === 0;
}

/** Writes zeros into `file` until the filesystem refuses: what is left is a disk with no space. */
function fillUp(file: string): number {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(16 * 1024);
  let bytes = 0;
  try {
    for (;;) bytes += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  return bytes;
}

const until = async (what: string, fn: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("chaos - checkpoint disk full", { timeout: 300_000 }, () => {
  it("fails the write loudly, keeps the last good checkpoint, trains on; resume continues from it exactly", async () => {
    const config = chaosConfig("chaos-enospc", ["run.steps=6", "learner.checkpointEvery=2"]);
    const dir = config.run.dir;
    const ckpts = join(dir, "checkpoints");
    const tmpfs = mountTinyTmpfs(ckpts);
    const filler = join(ckpts, "filler.bin");
    let filled = 0;
    if (!tmpfs) process.env.LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP = "4";
    const onStep = async (step: number, _run: RunningRun) => {
      if (!tmpfs || filled > 0 || step < 2) return;
      // The learner writes step 2's checkpoint right after the update; the disk fills behind it.
      await until("the step-2 checkpoint", () => existsSync(join(ckpts, "step-000002/state.json")));
      filled = fillUp(filler);
    };
    let s;
    try {
      s = await train(config, { quiet: true, onStep });
    } finally {
      delete process.env.LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP;
    }
    const metrics = metricsOf(dir);
    const failures = metrics.filter((r) => r.event === "checkpoint-failed");
    console.log(JSON.stringify({ scenario: "checkpoint-enospc", via: tmpfs ? "tmpfs" : "injected", fillerBytes: filled, failures: failures.map((f) => ({ step: f.step, error: f.error })), summary: countsOf(s) }));

    // Training went on to the end; only the step-2 checkpoint was written, the others failed loudly.
    expect(s.steps).toBe(6);
    expectAccounted(s);
    expect(metrics.filter((r) => r.event === "checkpoint").map((r) => r.step)).toEqual([2]);
    expect(failures.map((f) => f.step)).toEqual([4, 6]);
    for (const f of failures) expect(String(f.error)).toMatch(/ENOSPC.*the last good checkpoint is kept/);
    const errors = readFileSync(join(dir, "logs/learner-0.log"), "utf8").split("\n").filter((l) => l.includes('"checkpoint failed"'));
    expect(errors).toHaveLength(2);
    for (const e of errors) expect(JSON.parse(e).level).toBe(50); // pino error
    // Nothing half-written is left, and the last good checkpoint still verifies.
    expect(readdirSync(ckpts).filter((n) => n.startsWith("."))).toEqual([]);
    expect(listCheckpoints(dir).map((d) => d.split("/").pop())).toEqual(["step-000002"]);
    const good = latestValidCheckpoint(dir);
    expect(good.skipped).toEqual([]);
    expect(good.checkpoint!.state.step).toBe(2);

    // Space back; resume for two more steps. The learner restarts from step 2 and replays steps 3..6 on
    // the same batches with the same losses; the controller continues the same data cursor.
    rmSync(filler, { force: true });
    const before = updatesOf(dir);
    const s2 = await train({ ...config, run: { ...config.run, steps: 8 } }, { quiet: true, resume: dir });
    const after = updatesOf(dir).slice(before.length);
    const resumes = metricsOf(dir).filter((r) => r.event === "resume");
    console.log(JSON.stringify({ scenario: "checkpoint-enospc-resume", resumes, summary: countsOf(s2) }));
    expect(resumes.find((r) => "from" in r)).toMatchObject({ from: "nats", requested: s.requested });
    expect(resumes.find((r) => "checkpoint" in r)).toMatchObject({ step: 2 });
    expect(after.map((u) => u.step)).toEqual([3, 4, 5, 6, 7, 8]);
    const first = new Map(before.map((u) => [u.step, u]));
    for (const u of after.filter((x) => (x.step as number) <= 6)) {
      expect(u.batchIndex, `batch of step ${u.step}`).toBe(first.get(u.step)!.batchIndex);
      expect(u.loss, `loss of step ${u.step}`).toBe(first.get(u.step)!.loss);
    }
    expect(s2.steps).toBe(8);
    expectAccounted(s2);
    expect(listCheckpoints(dir).map((d) => d.split("/").pop())).toEqual(["step-000004", "step-000006", "step-000008"]);
  });
});
