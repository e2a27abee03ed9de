// The run's data cursor (cursor-key.ts) on a real nats-server: written by compare-and-set, so a write into a
// bucket made anew after the store was lost fails as RunStoreLost instead of landing there, one after another
// controller's write stands this one down, and one whose own earlier write landed unseen carries on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeEnvelope, jetstreamManager, kvGet, openKv, startLocalBus, type LocalBus } from "@lspo/bus";
import { CursorKey } from "../src/run/cursor-key.js";
import { ControllerSuperseded, RunStoreLost } from "../src/run/lease.js";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

const state = (requested: number) => ({ cursor: { index: requested }, requested });

describe("the run's data cursor", () => {
  it("is created, then updated on its own revision; a resume's open takes the revision as it stands", async () => {
    const kv = await openKv(bus.nc, "cursor-a");
    const cursor = await CursorKey.open(kv, "run");
    await cursor.write(state(4));
    await cursor.write(state(8));
    expect((await kvGet(kv, "run.cursor", "Cursor"))?.value).toEqual(state(8));
    const resumed = await CursorKey.open(kv, "run");
    await resumed.write(state(12));
    expect((await kvGet(kv, "run.cursor", "Cursor"))?.value).toEqual(state(12));
  });

  it("refuses to write into a bucket made anew after the store was lost", async () => {
    const kv = await openKv(bus.nc, "cursor-b");
    const cursor = await CursorKey.open(kv, "run");
    await cursor.write(state(4));
    await (await jetstreamManager(bus.nc)).streams.delete("KV_cursor-b");
    const remade = await openKv(bus.nc, "cursor-b");
    const err = await cursor.write(state(8)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RunStoreLost);
    expect((err as Error).message).toMatch(/the NATS store holding the run's data cursor \(KV key run\.cursor\) was lost or wiped while the run went on \(the key is gone, with no trace of a delete\)/);
    expect(await kvGet(remade, "run.cursor", "Cursor")).toBeNull(); // nothing landed in the new store
  });

  it("stands down after another controller wrote it, and carries on from its own write whose reply was lost", async () => {
    const kv = await openKv(bus.nc, "cursor-c");
    const cursor = await CursorKey.open(kv, "run");
    await cursor.write(state(4));
    // Its own next write landed behind its back (the reply lost): the same bytes at a newer revision.
    await kv.put("run.cursor", encodeEnvelope("Cursor", state(8)));
    await cursor.write(state(8));
    await cursor.write(state(12)); // and it goes on from that revision
    // Another writer.
    await kv.put("run.cursor", encodeEnvelope("Cursor", state(99)));
    await expect(cursor.write(state(16))).rejects.toThrow(ControllerSuperseded);
    expect((await kvGet(kv, "run.cursor", "Cursor"))?.value).toEqual(state(99));
  });
});
