// Fault 2: the run's NATS server goes away mid-run and comes back on the same port with the same file
// store (SIGTERM; the long form also SIGKILLs it). Every client reconnects; publishes retry under their
// message ids; consumers resume from the server's acknowledged state. Nothing acknowledged is lost: the
// training batches stored before the restart are all still there, and the run accounts for every prompt.
import { describe, expect, it } from "vitest";
import { STREAMS, connectBus, jetstreamManager, type NatsConnection } from "@lspo/bus";
import { train, type RunningRun } from "@lspo/controller";
import { LONG, chaosConfig, countsOf, expectAccounted, updatesOf } from "./support/chaos.js";

// Steps at which the server is restarted, and how.
const RESTARTS: Array<{ step: number; signal: "SIGTERM" | "SIGKILL" }> = LONG
  ? [{ step: 2, signal: "SIGTERM" }, { step: 5, signal: "SIGKILL" }, { step: 8, signal: "SIGTERM" }, { step: 11, signal: "SIGKILL" }]
  : [{ step: 2, signal: "SIGTERM" }];
const STEPS = LONG ? 14 : 6;

interface StreamMark {
  step: number;
  signal: string;
  batchesBefore: { first: number; last: number; messages: number };
  batchesAfter: { first: number; last: number; messages: number } | null;
}

async function batchesState(nc: NatsConnection) {
  const s = (await (await jetstreamManager(nc)).streams.info(STREAMS.batches.name)).state;
  return { first: s.first_seq, last: s.last_seq, messages: s.messages };
}

describe("chaos - NATS server restart mid-run", { timeout: LONG ? 900_000 : 200_000 }, () => {
  it(`restarts NATS ${RESTARTS.length} time(s); the run completes, nothing acknowledged lost`, async () => {
    const config = chaosConfig("chaos-nats", ["run.mode=pipelined", `run.steps=${STEPS}`]);
    const marks: StreamMark[] = [];
    let nc: NatsConnection | null = null;
    const onStep = async (step: number, run: RunningRun) => {
      const next = RESTARTS[marks.length];
      if (!next || step < next.step) return;
      nc ??= await connectBus({ url: run.natsUrl, name: "chaos-observer" });
      const mark: StreamMark = { step, signal: next.signal, batchesBefore: await batchesState(nc), batchesAfter: null };
      marks.push(mark);
      await run.nats!.restart(next.signal);
      // The observer reconnects like every service does; then the stored batches must all be there.
      for (let i = 0; i < 100 && !mark.batchesAfter; i++) {
        mark.batchesAfter = await batchesState(nc).catch(() => null);
        if (!mark.batchesAfter) await new Promise((r) => setTimeout(r, 100));
      }
    };
    let s;
    try {
      s = await train(config, { quiet: true, onStep });
    } finally {
      await (nc as NatsConnection | null)?.close();
    }
    console.log(JSON.stringify({ scenario: "nats-restart", restarts: marks, summary: countsOf(s) }));
    expect(marks).toHaveLength(RESTARTS.length);
    for (const m of marks) {
      expect(m.batchesAfter, `stream state after the restart at step ${m.step}`).not.toBeNull();
      // Same first sequence, nothing dropped: every batch acknowledged before the restart survived it.
      expect(m.batchesAfter!.first).toBe(m.batchesBefore.first);
      expect(m.batchesAfter!.last).toBeGreaterThanOrEqual(m.batchesBefore.last);
      expect(m.batchesAfter!.messages).toBeGreaterThanOrEqual(m.batchesBefore.messages);
    }
    expect(s.steps).toBe(STEPS);
    expectAccounted(s);
    const steps = [...new Set(updatesOf(config.run.dir).map((u) => u.step as number))].sort((a, b) => a - b);
    expect(steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  });
});
