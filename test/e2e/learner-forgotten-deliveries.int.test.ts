// A nats-server killed before it wrote its consumer's state forgets the batches it delivered to the learner,
// and their acks, and delivers them again once it is back (the long chaos NATS-restart run: a batch trained,
// then handed over again, its groups counted twice). Here the loss is made certain (support/forget.ts): the
// learner consumer's state is kept once two batches are trained and acked, two more are trained and acked, and
// the server is frozen, given the kept state back, killed and started again. The running learner (`lspo serve
// learner`) must skip both batches delivered again (acked, not trained), count them in its status as
// `batchesRedelivered`, and go on with the next batch. Real processes, real NATS, real ORT.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { STREAMS, jetstreamManager } from "@lspo/bus";
import { LearnerServiceService } from "@lspo/proto";
import { learnerFixture } from "./support/learner-fixture.js";
import { keepConsumerState } from "./support/forget.js";
import { exited, until } from "./support/wait.js";

const fixture = learnerFixture(10);
const RUN = "forgot";
const consumer = `learner-${RUN}`;

describe("learner - the server forgets batches it delivered (SIGKILLed before writing its consumer state)", { timeout: 240_000 }, () => {
  it("skips the batches delivered again, counts them, trains none twice, and goes on", async () => {
    const updates: Array<Record<string, any>> = [];
    await fixture.readMetrics(RUN, (m) => void (m.event === "update" && updates.push(m)));
    const jsm = await jetstreamManager(fixture.bus.nc);
    const ackedThrough = (n: number) =>
      until(`the learner's acks of ${n} batches`, async () => {
        const c = await jsm.consumers.info(STREAMS.batches.name, consumer).catch(() => null); // null: the server not back yet
        return c !== null && c.ack_floor.stream_seq === n && c.num_ack_pending === 0 && c.num_pending === 0;
      }, 60_000);

    await fixture.publishBatches(RUN, 0, 2);
    const learner = fixture.startLearner(RUN, mkdtempSync(join(tmpdir(), "lspo-learner-forgot-")));
    try {
      await until("2 updates", () => updates.length >= 2, 120_000);
      await ackedThrough(2);
      const kept = await keepConsumerState(fixture.bus.server, STREAMS.batches.name, consumer);

      await fixture.publishBatches(RUN, 2, 4);
      await until("4 updates", () => updates.length >= 4, 120_000);
      await ackedThrough(4);

      await kept.forget();

      // Batches 3 and 4 come back, as first deliveries; the learner skips and acks both.
      await ackedThrough(4);
      const registry = await ActorRegistry.open(fixture.bus.nc, { runId: RUN });
      const handle = actorHandle(registry, LearnerServiceService, `learner-${RUN}`, { deadlineMs: 2000 });
      let counters: Record<string, number> = {};
      await until("the learner's status", async () => {
        counters = ((await handle.call.status({}).catch(() => null))?.status?.counters ?? {}) as Record<string, number>;
        return counters.batchesRedelivered !== undefined;
      }, 30_000);
      expect(counters.batchesRedelivered).toBe(2);
      expect(counters.batchesConsumed).toBe(4);

      // The next batch is trained as the fifth update; no batch was trained twice.
      await fixture.publishBatches(RUN, 4, 5);
      await until("5 updates", () => updates.length >= 5, 120_000);
      await new Promise((r) => setTimeout(r, 1000)); // a sixth update, were there one, would have come by now
      expect(updates.map((u) => u.step)).toEqual([1, 2, 3, 4, 5]);
      expect(updates.map((u) => u.batchIndex)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      learner.kill("SIGTERM");
      await exited(learner);
    }
  });
});
