// Fault 1: SIGKILL the rollout actors, the verifier, the sampler and the learner at seeded random moments
// while the whole pipeline trains (separate processes, real NATS, the smoke model). The node agent restarts
// each; prompts held by a dead actor are redelivered, the sampler resumes from its snapshot, the learner
// from its last checkpoint (replaying the batches after it). The run must reach its step count with every
// prompt accounted for: lost = 0, duplicates = 0.
import { describe, expect, it } from "vitest";
import { train } from "@lspo/controller";
import { KillSchedule, LONG, chaosConfig, countsOf, expectAccounted, rngFor, updatesOf } from "./support/chaos.js";

const KINDS = ["rollout", "verifier", "sampler", "learner"] as const;
// Short form: one kill of each kind in a seeded order. Long form: three runs of twelve kills each.
const RUNS = LONG ? [1, 2, 3] : [1];
const STEPS = LONG ? 24 : 12;
const KILLS = LONG ? 12 : 4;

describe("chaos - SIGKILL actors mid-run", { timeout: LONG ? 900_000 : 200_000 }, () => {
  for (const n of RUNS) {
    it(`run ${n}: ${KILLS} kills across ${KINDS.join(", ")}; the run completes, nothing lost or duplicated`, async () => {
      const config = chaosConfig(`chaos-kill-${n}`, ["run.mode=pipelined", `run.steps=${STEPS}`, "learner.checkpointEvery=2"]);
      const schedule = new KillSchedule(rngFor(`kill-${n}`), { kinds: KINDS, kills: KILLS, gapMs: 400, lastStep: STEPS });
      let s;
      try {
        s = await train(config, { quiet: true, onStep: schedule.onStep });
      } finally {
        schedule.stop();
      }
      console.log(JSON.stringify({ scenario: "kill", run: n, faults: schedule.faults.map((f) => `${f.actor}@step${f.step}`), summary: countsOf(s) }));
      expect(schedule.faults.length).toBe(KILLS);
      expect(s.steps).toBe(STEPS);
      expectAccounted(s);
      // Every kill was answered by a restart of that actor.
      for (const name of new Set(schedule.faults.map((f) => f.actor))) {
        const killed = schedule.faults.filter((f) => f.actor === name).length;
        expect(s.actors.find((a) => a.name === name)!.restarts, name).toBeGreaterThanOrEqual(killed);
      }
      expect(s.restarts).toBeGreaterThanOrEqual(KILLS);
      // The learner's final lineage has one update per step, in order (a restart replays from its checkpoint).
      const updates = updatesOf(config.run.dir);
      const last = new Map(updates.map((u) => [u.step as number, u]));
      expect([...last.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    });
  }
});

