// The sampler's state through a checkpoint onto a fresh NATS: the learner reads the sampler's snapshot with
// the segments it names (readSamplerState), the checkpoint manifest carries them, and the controller puts them
// back on an empty store (restoreSamplerState), where the sampler loads exactly the state it had saved. The
// snapshot alone, as checkpoints carried it before, names segments an empty store does not have. Real
// nats-servers (two: the run's, and a fresh one), the sampler's own DurableState.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBJECT_STORES, decodeEnvelope, getBlob, openObjectStore, putBlob, startLocalBus, type LocalBus, type RunEvent } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import type { GroupSummary } from "@lspo/proto";
import { readSamplerState, type SamplerState } from "@lspo/learner";
import { restoreSamplerState } from "@lspo/controller";
import { DurableState, SamplerCore, type PersistedSampler } from "@lspo/sampler";

const RUN = "ckpt";
const NAME = `sampler-${RUN}.snapshot`;
let live: LocalBus;
let fresh: LocalBus;
beforeAll(async () => {
  live = await startLocalBus();
  fresh = await startLocalBus();
});
afterAll(async () => {
  await live?.stop();
  await fresh?.stop();
});

const settings = resolveConfig({ sampler: { mode: "stream", batchSize: 4, window: 50 } }).sampler;
const build = (snapshot: ConstructorParameters<typeof SamplerCore>[2], uids: string[]) => new SamplerCore(settings, 1, snapshot, uids);
function group(i: number): GroupSummary {
  const kind = i % 3;
  const lengths = [1 + ((i * 7) % 40), 1 + ((i * 13) % 50), 2 + (i % 9), 5];
  return { uid: `u${i}`, lengths, rewards: [1, kind === 1 ? 1 : 0, 0, kind === 2 ? 0 : 1], correct: [true, kind === 1, false, kind !== 2], policyVersion: 0n };
}
const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x)));
const stateOf = (core: SamplerCore) => plain({ core: core.snapshot(), uids: core.uidsFrom(0) });

/** The manifest fields the learner writes for a sampler state (services/learner/src/main.ts). */
const manifestOf = (state: SamplerState, step = 2): RunEvent => ({
  event: "checkpoint",
  step,
  sampler: Buffer.from(state.snapshot).toString("base64"),
  samplerParts: Object.fromEntries([...state.parts].map(([n, b]) => [n, Buffer.from(b).toString("base64")])),
  samplerBytes: 1,
});

describe("sampler state through a checkpoint", { timeout: 120_000 }, () => {
  it("loads on a fresh NATS exactly as saved; the snapshot alone names segments that are not there", async () => {
    const liveStore = await openObjectStore(live.nc, OBJECT_STORES.batches);
    const core = new SamplerCore(settings, 1);
    const durable = new DurableState(live.nc, liveStore, NAME);
    let next = 0;
    // Enough saves that uid segments merged and the window log holds a base and a tail.
    for (let k = 0; k < 9; k++) {
      for (const end = next + 7; next < end; next++) core.offer(group(next), next + 1);
      await durable.save(core, 0);
    }
    const state = await readSamplerState(liveStore, NAME);
    expect(state).not.toBeNull();
    // Its parts are exactly the segments the snapshot names: its uid segments and the window log.
    const saved = decodeEnvelope(state!.snapshot, "SamplerSnapshot").body as PersistedSampler;
    const named = [...saved.uidSegments, ...saved.windowSegments!].map((g) => g.name);
    expect([...state!.parts.keys()].sort()).toEqual(named.sort());
    expect(saved.uidSegments.length).toBeGreaterThan(0);
    expect(saved.windowSegments!.length).toBeGreaterThan(0);
    for (const n of named) expect(state!.parts.get(n)).toEqual(await getBlob(liveStore, n));

    // Before: the checkpoint carried the snapshot only.
    const bare = await openObjectStore(fresh.nc, "bare-restore");
    await putBlob(bare, NAME, state!.snapshot);
    await expect(new DurableState(fresh.nc, bare, NAME).load(build)).rejects.toThrow(/not found in the object store/);

    const freshStore = await openObjectStore(fresh.nc, OBJECT_STORES.batches);
    expect(await restoreSamplerState(manifestOf(state!), RUN, freshStore)).toEqual({ restored: true, parts: state!.parts.size });
    const loaded = await new DurableState(fresh.nc, freshStore, NAME).load(build);
    expect(stateOf(loaded!.core)).toEqual(stateOf(core));
  });

  it("reads only consistent sets while the sampler keeps saving: whatever it returns loads on a fresh store", async () => {
    const store = await openObjectStore(live.nc, "busy-sampler");
    const core = new SamplerCore(settings, 1);
    const durable = new DurableState(live.nc, store, NAME);
    let next = 0;
    let pauseMs = 0;
    let saving = true;
    const saves = (async () => {
      while (saving) {
        for (const end = next + 5; next < end; next++) core.offer(group(next), next + 1);
        await durable.save(core, 0);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
    let restores = 0;
    /** Reads the state mid-saves; what it returns must load, on a fresh store, as a state the sampler saved. */
    const readAndRestore = async (tries: number): Promise<boolean> => {
      const uidsBefore = core.uidCount;
      const state = await readSamplerState(store, NAME, { tries });
      if (!state) return false;
      const target = await openObjectStore(fresh.nc, `busy-restore-${restores++}`);
      expect((await restoreSamplerState(manifestOf(state), RUN, target)).restored).toBe(true);
      const loaded = await new DurableState(fresh.nc, target, NAME).load(build);
      expect(loaded!.core.uidCount).toBeGreaterThanOrEqual(uidsBefore - 5);
      expect(loaded!.core.uidsFrom(0)).toEqual(core.uidsFrom(0).slice(0, loaded!.core.uidCount));
      return true;
    };
    try {
      // Saves back to back, a few ms apart: most reads find the snapshot replaced meanwhile and give up (null);
      // none may return a set that does not load (a segment the snapshot names, deleted before it was read).
      for (let read = 0; read < 100; read++) await readAndRestore(1);
      // The service saves every sampler.snapshotEveryGroups groups or snapshotEveryMs, far apart next to a
      // read: then every read succeeds.
      pauseMs = 50;
      for (let read = 0; read < 5; read++) {
        await new Promise((r) => setTimeout(r, 30));
        expect(await readAndRestore(20), `paced read ${read}`).toBe(true);
      }
    } finally {
      saving = false;
      await saves;
    }
  });

  it("refuses a manifest whose parts are not the snapshot's, writing nothing; says when there is nothing or it was too big", async () => {
    const store = await openObjectStore(fresh.nc, "refused-restore");
    const snapshot = Buffer.from("x").toString("base64");
    const refused = [
      [{ [`${NAME}.uids.0-4`]: snapshot, "weights/v1": snapshot }, "samplerParts names 'weights/v1', which is not a part of sampler-ckpt.snapshot"],
      [{ [`${NAME}.uids.0-4`]: 7 }, `samplerParts['${NAME}.uids.0-4'] is number, not base64`],
      [["a"], "samplerParts is an array, not an object of base64 strings by name"],
      ["parts", "samplerParts is string, not an object of base64 strings by name"],
    ] as const;
    for (const [samplerParts, why] of refused) {
      expect(await restoreSamplerState({ event: "checkpoint", sampler: snapshot, samplerParts } as RunEvent, RUN, store)).toEqual({ restored: false, why });
    }
    expect((await store.list()).filter((o) => !o.deleted)).toEqual([]);
    expect(await restoreSamplerState({ event: "checkpoint", sampler: null, samplerBytes: 0 } as RunEvent, RUN, store)).toEqual({ restored: false, why: "none" });
    expect(await restoreSamplerState({ event: "checkpoint", sampler: null, samplerBytes: 900_000 } as RunEvent, RUN, store)).toEqual({ restored: false, why: "too big for the manifest" });
    // A checkpoint from before the parts: the snapshot alone goes back, as it did.
    expect(await restoreSamplerState({ event: "checkpoint", sampler: snapshot } as RunEvent, RUN, store)).toEqual({ restored: true, parts: 0 });
  });
});
