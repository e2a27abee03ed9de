// Fault: the run's NATS store lost mid-run, under load (a NATS pod on an emptyDir restarted: the server comes
// back on the same port, empty). The controller learns it from its lease (services/controller/src/run/lease.ts:
// no record of it at all, or its bucket gone) and stops with an error that says so, instead of running on
// against a store that no longer holds the run. `lspo train --resume` then goes on from the newest checkpoint,
// as after a store lost between runs (test/e2e/pipeline.int.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { train, type RunningRun } from "@lspo/controller";
import { chaosConfig, countsOf } from "./support/chaos.js";

const metricsOf = (dir: string) =>
  readFileSync(join(dir, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.kind === "metric").map((e) => e.body);

describe("chaos - NATS store lost mid-run", { timeout: 500_000 }, () => {
  it("the controller stops saying the store was lost, and --resume finishes the run from the newest checkpoint", async () => {
    const config = chaosConfig("chaos-store-lost", ["run.mode=pipelined", "run.steps=8", "learner.checkpointEvery=2"]);
    const dir = config.run.dir;
    let lostAt = 0;
    const onStep = async (step: number, run: RunningRun) => {
      if (lostAt || step < 3) return;
      lostAt = Date.now();
      await run.nats!.restart("SIGKILL", { wipeStore: true });
    };
    const err = await train(config, { quiet: true, onStep }).then(() => null, (e: Error) => e);
    const stoppedAfterS = (Date.now() - lostAt) / 1000;
    expect(lostAt).toBeGreaterThan(0);
    expect(err?.name).toBe("RunStoreLost");
    expect(err?.message).toMatch(/the NATS store holding run lease chaos-store-lost\.controller was lost or wiped while the run went on .*`lspo train --resume <run dir>` goes on from the newest checkpoint/);

    const resumed = await train(config, { quiet: true, resume: dir });
    const records = metricsOf(dir);
    console.log(JSON.stringify({ scenario: "store-lost", stoppedAfterS, summary: countsOf(resumed), resume: records.find((r) => r.event === "resume") }));
    expect(records.find((r) => r.event === "resume" && "from" in r)?.from).toBe("checkpoint");
    expect(resumed.steps).toBe(8);
    // Nothing trained twice: the steps after the checkpoint trained on groups the resume does not ask for again.
    expect(resumed.duplicates).toBe(0);
  });
});
