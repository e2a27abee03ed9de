// Run events (LSPO_EVENTS): what actors report to the controller, read in order from any host. A malformed
// event is reported and skipped, never fatal; caughtUp() waits for everything published before it; another
// run's events are not read. Real nats-server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  encodeEnvelope, eventSubject, jetstream, jetstreamManager, lastEvent, publishEvent, readEvents, startLocalBus, type LocalBus,
  type ReceivedEvent,
} from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

describe("bus - run events", () => {
  it("reads a run's events in order, skips malformed ones with the reason, and catches up", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    await publishEvent(js, "ev1", "metric", { event: "update", step: 1n });
    await js.publish(eventSubject("ev1", "metric"), new Uint8Array([0xc1]));
    await js.publish(eventSubject("ev1", "judged"), encodeEnvelope("RunEvent", [1, 2]));
    await js.publish("lspo.events.ev1.bogus", encodeEnvelope("RunEvent", { x: 1 }));
    await publishEvent(js, "ev2", "metric", { event: "update", step: 9 });
    await publishEvent(js, "ev1", "checkpoint", { step: 2, dir: "/state/checkpoints/step-000002", node: "host-b" }, "ckpt-2");
    await publishEvent(js, "ev1", "checkpoint", { step: 2, dir: "/state/checkpoints/step-000002", node: "host-b" }, "ckpt-2"); // a retry: stored once
    const got: ReceivedEvent[] = [];
    const bad: string[] = [];
    const reader = await readEvents(js, jsm, "ev1", 1, (e) => got.push(e), (_seq, reason) => bad.push(reason));
    await reader.caughtUp();
    await reader.stop();
    expect(got.map((e) => [e.kind, e.body.step])).toEqual([["metric", 1], ["checkpoint", 2]]);
    expect(typeof got[0].body.time).toBe("string");
    expect(bad).toHaveLength(3);
    expect(bad.join("\n")).toMatch(/msgpack|envelope/);
    expect(bad.join("\n")).toMatch(/RunEvent body should be an object/);
    expect(bad.join("\n")).toMatch(/unknown event kind 'bogus'/);
    expect((await lastEvent(jsm, "ev1", "checkpoint"))?.body).toMatchObject({ step: 2, node: "host-b" });
    expect(await lastEvent(jsm, "ev1", "eval")).toBeNull();
    // From a later sequence: only what follows.
    const later: ReceivedEvent[] = [];
    const r2 = await readEvents(js, jsm, "ev1", got[1].seq, (e) => later.push(e));
    await r2.caughtUp();
    await r2.stop();
    expect(later.map((e) => e.kind)).toEqual(["checkpoint"]);
  });
});
