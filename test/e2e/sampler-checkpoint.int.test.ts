// The sampler's state through a checkpoint onto a fresh NATS: the learner reads the sampler's snapshot with
// the segments it names (readSamplerState) and puts them in NATS as one object the checkpoint manifest names
// (publishSamplerState); the controller copies that object into its run dir as the manifest arrives
// (SamplerStateCopies) and, on an empty store, puts the state back from its copy (restoreSamplerState), where
// the sampler loads exactly the state it had saved. The snapshot alone names segments an empty store does not
// have. Real nats-servers (two: the run's, and a fresh one), the sampler's own DurableState.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBJECT_STORES, decodeEnvelope, encodeEnvelope, getBlob, openObjectStore, putBlob, startLocalBus, type LocalBus, type RunEvent } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import type { GroupSummary } from "@lspo/proto";
import { SamplerStateUnread, encodeSamplerState, publishSamplerState, readSamplerState, samplerStateObject, sha256Hex, type SamplerState } from "@lspo/learner";
import { SamplerStateCopies, restoreSamplerState } from "@lspo/controller";
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
  for (const d of runDirs) rmSync(d, { recursive: true, force: true });
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

type Store = Awaited<ReturnType<typeof openObjectStore>>;
const runDirs: string[] = [];
/** Copies as the controller makes them, of objects in `store`, into a fresh run dir; failures are collected. */
function copiesOf(store: Store, keep = 3) {
  const dir = mkdtempSync(join(tmpdir(), "lspo-sampler-copies-"));
  runDirs.push(dir);
  const failed: Array<{ step: number; message: string }> = [];
  return { copies: new SamplerStateCopies(dir, store, keep, (step, err) => failed.push({ step, message: err.message })), failed };
}

/** A checkpoint at `step` as the learner writes it (main.ts) and the controller takes its manifest: the state
 *  put in NATS, the manifest naming it, the controller's copy made. */
async function checkpoint(store: Store, copies: SamplerStateCopies, state: SamplerState, step = 2, keptSteps: number[] = []): Promise<RunEvent> {
  const samplerState = await publishSamplerState(live.nc, store, RUN, step, encodeSamplerState(state), keptSteps);
  const manifest: RunEvent = { event: "checkpoint", step, samplerState: { ...samplerState } };
  copies.take(manifest);
  await copies.drain();
  return manifest;
}

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

    const { copies, failed } = copiesOf(liveStore);
    const manifest = await checkpoint(liveStore, copies, state!);
    expect(failed).toEqual([]);
    // The copy is the object, byte for byte, as the manifest describes it.
    const copy = readFileSync(copies.pathOf(2));
    expect(new Uint8Array(copy)).toEqual(await getBlob(liveStore, samplerStateObject(RUN, 2)));
    expect(manifest.samplerState).toEqual({ object: samplerStateObject(RUN, 2), bytes: copy.byteLength, sha256: sha256Hex(copy) });

    // The run's store is gone now: the controller's copy puts the state back on a fresh one.
    const freshStore = await openObjectStore(fresh.nc, OBJECT_STORES.batches);
    expect(await restoreSamplerState(manifest, RUN, freshStore, copies)).toEqual({ restored: true, parts: state!.parts.size });
    const loaded = await new DurableState(fresh.nc, freshStore, NAME).load(build);
    expect(stateOf(loaded!.core)).toEqual(stateOf(core));
  });

  it("takes the parts the snapshot lists: a uid that begins with the snapshot's name is not one; an older snapshot's are found by name; a bad list is refused", async () => {
    const store = await openObjectStore(live.nc, "uid-like-part");
    const core = new SamplerCore(settings, 1);
    const durable = new DurableState(live.nc, store, NAME);
    let next = 0;
    for (let k = 0; k < 4; k++) {
      for (const end = next + 7; next < end; next++) core.offer({ ...group(next), uid: `${NAME}.u${next}` }, next + 1);
      await durable.save(core, 0);
    }
    const saved = decodeEnvelope(await getBlob(store, NAME), "SamplerSnapshot").body as PersistedSampler;
    // The snapshot's own body holds such uids (the groups held for the next batch), beside the listed parts.
    const heldUids = JSON.stringify(plain(saved.core)).match(new RegExp(`"${NAME.replace(".", "\\.")}\\.u\\d+"`, "g")) ?? [];
    expect(heldUids.length).toBeGreaterThan(0);
    expect(saved.parts).toEqual([...saved.uidSegments, ...saved.windowSegments!].map((g) => g.name));

    const state = await readSamplerState(store, NAME, { tries: 1 });
    expect(state).not.toBeNull();
    expect([...state!.parts.keys()].sort()).toEqual([...saved.parts!].sort());
    const target = await openObjectStore(fresh.nc, "uid-like-part-restored");
    for (const [n, bytes] of state!.parts) await putBlob(target, n, bytes);
    await putBlob(target, NAME, state!.snapshot);
    expect(stateOf((await new DurableState(fresh.nc, target, NAME).load(build))!.core)).toEqual(stateOf(core));

    // A snapshot written before the list: its parts are the strings that begin with its name (held uids too,
    // which is why the list exists: such a uid reads as a missing part, and no try succeeds).
    const { parts: _, ...unlisted } = saved;
    await putBlob(store, NAME, encodeEnvelope("SamplerSnapshot", unlisted));
    await expect(readSamplerState(store, NAME, { tries: 1 })).rejects.toThrow(/no consistent read in 1 tries \(the last: the snapshot or a part it names was replaced while read\)/);
    const plainUids = await openObjectStore(live.nc, "unlisted-parts");
    const older = new SamplerCore(settings, 1);
    for (let i = 0; i < 14; i++) older.offer(group(i), i + 1);
    await new DurableState(live.nc, plainUids, NAME).save(older, 0);
    const olderBody = decodeEnvelope(await getBlob(plainUids, NAME), "SamplerSnapshot").body as PersistedSampler;
    const { parts: listed, ...withoutList } = olderBody;
    await putBlob(plainUids, NAME, encodeEnvelope("SamplerSnapshot", withoutList));
    expect([...(await readSamplerState(plainUids, NAME, { tries: 1 }))!.parts.keys()].sort()).toEqual([...listed!].sort());

    // A list naming an object outside the snapshot's name is refused, naming it (restoring it would overwrite another object).
    await putBlob(store, NAME, encodeEnvelope("SamplerSnapshot", { ...saved, parts: [...saved.parts!, "lspo-weights.latest"] }));
    await expect(readSamplerState(store, NAME, { tries: 1 })).rejects.toThrow(/lists a part "lspo-weights.latest" that is not 'sampler-ckpt.snapshot.<part>'/);
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
    const { copies, failed } = copiesOf(store);
    /** Reads the state mid-saves; what it returns must load, on a fresh store, as a state the sampler saved. */
    const readAndRestore = async (tries: number): Promise<boolean> => {
      const uidsBefore = core.uidCount;
      const state = await readSamplerState(store, NAME, { tries }).catch((err: Error) => {
        if (err instanceof SamplerStateUnread) return null;
        throw err;
      });
      if (!state) return false;
      const target = await openObjectStore(fresh.nc, `busy-restore-${restores++}`);
      const manifest = await checkpoint(store, copies, state, restores);
      expect(failed).toEqual([]);
      expect((await restoreSamplerState(manifest, RUN, target, copies)).restored).toBe(true);
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

  it("reads through a NATS restart: a try that NATS did not answer is no 'absent', and the next one waits for it", async () => {
    // A read NATS did not answer used to be taken for "no snapshot" (null), and a checkpoint then went without
    // the sampler's state, saying nothing of NATS; every try could be used up within one outage. Its own
    // server, restarted (SIGKILL, the same file store), then stopped.
    const bus = await startLocalBus();
    try {
      const store = await openObjectStore(bus.nc, "restarted");
      const core = new SamplerCore(settings, 1);
      for (let i = 0; i < 20; i++) core.offer(group(i), i + 1);
      await new DurableState(bus.nc, store, NAME).save(core, 0);
      const before = await readSamplerState(store, NAME, { tries: 1 });
      expect(before).not.toBeNull();

      // Read as the server comes back, the client still reconnecting: the read goes through.
      await bus.server.restart("SIGKILL");
      const state = await readSamplerState(store, NAME);
      expect(state, "the state read across the restart").not.toBeNull();
      expect(Buffer.from(state!.snapshot)).toEqual(Buffer.from(before!.snapshot));
      expect([...state!.parts.keys()].sort()).toEqual([...before!.parts.keys()].sort());

      // A server that stays away: the tries run out, and the error says NATS did not answer, where the read
      // used to answer null, "no snapshot" (fails so: mutation-checked against the old read).
      await bus.server.stop();
      const started = Date.now();
      await expect(readSamplerState(store, NAME, { tries: 3, tryTimeoutMs: 1000 })).rejects.toThrow(/no consistent read in 3 tries \(the last: (NATS: .+|a read took over 1000 ms)\)/);
      expect(Date.now() - started, "the tries waited between them").toBeGreaterThanOrEqual(750);
    } finally {
      await bus.stop().catch(() => undefined);
    }
  });

  it("does not return a set whose part was written again under its name while it was read", async () => {
    // A segment name the sampler dropped may be written again later (a restart replays into the same uid
    // range). A read that took the old snapshot and then the new object under that name would return a set
    // that never existed; only the check that the snapshot did not change after the parts were read catches
    // it. The store below is the real one; the rewrite lands exactly between the two reads.
    const real = await openObjectStore(live.nc, "rewritten-part");
    const part = `${NAME}.uids.0-4`;
    const first = encodeEnvelope("SamplerSnapshot", { segments: [part], n: 1 });
    const second = encodeEnvelope("SamplerSnapshot", { segments: [part], n: 2 });
    await putBlob(real, part, Buffer.from("uids of the first snapshot"));
    await putBlob(real, NAME, first);
    let rewrites = 0;
    const racing = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== "get") return Reflect.get(target, prop, receiver);
        return async (name: string) => {
          if (name === part && rewrites++ === 0) {
            await putBlob(real, part, Buffer.from("uids of the second snapshot"));
            await putBlob(real, NAME, second);
          }
          return target.get(name);
        };
      },
    });
    // One try: the set read was inconsistent, so there is none.
    await expect(readSamplerState(racing, NAME, { tries: 1 })).rejects.toThrow(SamplerStateUnread);
    // Two: the second read is of the new snapshot with its own part.
    rewrites = 0;
    await putBlob(real, part, Buffer.from("uids of the first snapshot"));
    await putBlob(real, NAME, first);
    const state = await readSamplerState(racing, NAME, { tries: 2 });
    expect(Buffer.from(state!.snapshot)).toEqual(Buffer.from(second));
    expect(Buffer.from(state!.parts.get(part)!).toString()).toBe("uids of the second snapshot");
  });

  it("refuses a bad manifest, a missing or corrupt copy and parts that are not the snapshot's, writing nothing", async () => {
    const liveStore = await openObjectStore(live.nc, "refused-live");
    const store = await openObjectStore(fresh.nc, "refused-restore");
    const { copies, failed } = copiesOf(liveStore);
    const snapshot = Buffer.from("x");
    const good = await checkpoint(liveStore, copies, { snapshot, parts: new Map([[`${NAME}.uids.0-4`, Buffer.from("y")]]) }, 4);
    const ref = good.samplerState as { object: string; bytes: number; sha256: string };
    const refused: Array<[RunEvent, string | RegExp]> = [
      [{ event: "checkpoint", step: 4, samplerState: "x" }, "samplerState is string, not {object, bytes, sha256}"],
      [{ event: "checkpoint", step: 4, samplerState: { ...ref, object: 7 } }, "samplerState.object is 7, not an object name"],
      [{ event: "checkpoint", step: 4, samplerState: { ...ref, bytes: -1 } }, "samplerState.bytes is -1, not a byte count"],
      [{ event: "checkpoint", step: 4, samplerState: { ...ref, sha256: "abc" } }, 'samplerState.sha256 is "abc", not a SHA-256 in hex'],
      // The manifest of another checkpoint than the copy's: its digest does not match.
      [{ ...good, samplerState: { ...ref, sha256: "0".repeat(64) } }, /step-000004\.msgpack is \d+ bytes with SHA-256 [0-9a-f]{64}, the manifest says .* \(a corrupt copy\)/],
      [{ ...good, step: 6 }, /the controller holds no copy of it \(.*step-000006\.msgpack\)/],
      // Older manifests carried the state inline.
      [{ event: "checkpoint", step: 4, sampler: snapshot.toString("base64"), samplerParts: {} }, /inline.*this version does not read that form/],
    ];
    for (const [manifest, why] of refused) {
      const got = await restoreSamplerState(manifest, RUN, store, copies);
      expect(got.restored, JSON.stringify(manifest)).toBe(false);
      expect((got as { why: string }).why).toMatch(why);
    }
    // A copy whose part would land on another object (the copy matches its manifest, its content does not).
    const { copies: forged } = copiesOf(liveStore);
    const bad = await checkpoint(liveStore, forged, { snapshot, parts: new Map([["weights/v1", Buffer.from("y")]]) }, 4);
    expect(await restoreSamplerState(bad, RUN, store, forged)).toEqual({ restored: false, why: "sampler state: part \"weights/v1\" is not a part of sampler-ckpt.snapshot" });
    // A copy changed on disk after it was made.
    const bytes = readFileSync(copies.pathOf(4));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(copies.pathOf(4), bytes);
    expect((await restoreSamplerState(good, RUN, store, copies) as { why: string }).why).toMatch(/a corrupt copy/);
    expect((await store.list()).filter((o) => !o.deleted)).toEqual([]);
    expect(await restoreSamplerState({ event: "checkpoint", step: 4, samplerState: null, samplerBytes: 0 }, RUN, store, copies)).toEqual({ restored: false, why: "none" });
    expect(failed).toEqual([]);
  });

  it("copies as the manifests arrive, keeps the learner's number of them, and reports a copy it could not make", async () => {
    const liveStore = await openObjectStore(live.nc, "copies-live");
    const { copies, failed } = copiesOf(liveStore, 2);
    const state = (i: number): SamplerState => ({ snapshot: Buffer.from(`snapshot ${i}`), parts: new Map([[`${NAME}.uids.${i}`, Buffer.from(`uids ${i}`)]]) });
    // The learner keeps checkpoints 2 and 4 on disk when it writes 6 (keepCheckpoints 3): the objects of
    // steps it no longer keeps go.
    for (const step of [2, 4, 6, 8]) await checkpoint(liveStore, copies, state(step), step, [2, 4, 6, 8].filter((s) => s < step).slice(-2));
    const objects = (await liveStore.list()).filter((o) => !o.deleted).map((o) => o.name).sort();
    expect(objects).toEqual([4, 6, 8].map((s) => samplerStateObject(RUN, s)));
    // The controller keeps the newest 2 copies, each the object as it was put.
    expect(readdirSync(copies.dir).sort()).toEqual(["step-000006.msgpack", "step-000008.msgpack"]);
    expect(new Uint8Array(readFileSync(copies.pathOf(8)))).toEqual(new Uint8Array(encodeSamplerState(state(8))));
    expect(failed).toEqual([]);

    // An object that is not what its manifest says, and one that is gone: reported, no copy left behind.
    const ref = { object: samplerStateObject(RUN, 8), bytes: 3, sha256: "0".repeat(64) };
    copies.take({ event: "checkpoint", step: 10, samplerState: ref });
    copies.take({ event: "checkpoint", step: 12, samplerState: { ...ref, object: samplerStateObject(RUN, 12) } });
    copies.take({ event: "checkpoint", step: 14, samplerState: { ...ref, object: "" } });
    await copies.drain();
    expect(failed.map((f) => f.step)).toEqual([10, 12, 14]);
    expect(failed[0].message).toMatch(/object 'ckpt\.sampler\.step-000008' is \d+ bytes with SHA-256 [0-9a-f]{64}, the manifest says 3 bytes with 0{64}/);
    expect(failed[1].message).toMatch(/not found/);
    expect(failed[2].message).toBe('samplerState.object is "", not an object name');
    expect(existsSync(copies.pathOf(10)) || existsSync(copies.pathOf(12))).toBe(false);
    expect(readdirSync(copies.dir).sort()).toEqual(["step-000006.msgpack", "step-000008.msgpack"]);
  });
});
