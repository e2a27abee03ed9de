// publishSamplerState (sampler-state.ts) where NATS refuses part of it, on real nats-servers whose identities
// lack one permission each: the checkpoint's state is put, and an old checkpoint's object that cannot be
// deleted is reported by name (the learner logs it and goes on); a put that is refused rejects, naming the
// refusal (the learner then writes the checkpoint with a manifest that names no sampler state: main.ts).
import { describe, expect, it } from "vitest";
import { OBJECT_STORES, connectBus, getBlob, openObjectStore, purgeByFilterLeaksUsage, startNatsServer } from "@lspo/bus";
import { publishSamplerState, samplerStateObject, sha256Hex } from "@lspo/learner";

const RUN = "publish";
const bytes = (step: number) => new Uint8Array(300_000).fill(step); // three chunks of the object store's 128 KB

/** A server with one user, `learner`, whose publish permissions are `permissions`, and a connection as them. */
async function serverWith(permissions: string) {
  const server = await startNatsServer({ config: `authorization { users = [ { user: "learner", password: "l", permissions: { publish: ${permissions} } } ] }` });
  const nc = await connectBus({ url: server.url, name: "sampler-state-publish", user: "learner", password: "l" });
  return { nc, server, close: async () => (await nc.close(), await server.stop()) };
}

describe("publishSamplerState where NATS refuses", { timeout: 60_000 }, () => {
  it("an old checkpoint's object that cannot be deleted is reported by name; the new one is put and named", async () => {
    const { nc, close } = await serverWith(`{ deny: ["$JS.API.STREAM.MSG.DELETE.>"] }`);
    try {
      const store = await openObjectStore(nc, OBJECT_STORES.checkpoints);
      const failed: { object: string; message: string }[] = [];
      const onFailed = (object: string, err: Error) => failed.push({ object, message: err.message });
      for (const step of [2, 4]) await publishSamplerState(nc, store, RUN, step, bytes(step), [2, 4], onFailed);
      expect(failed).toEqual([]); // both kept: nothing to delete yet
      // Step 6, with only steps 4 and 6 left on disk: step 2's object goes.
      const ref = await publishSamplerState(nc, store, RUN, 6, bytes(6), [4, 6], onFailed);
      expect(ref).toEqual({ object: samplerStateObject(RUN, 6), bytes: 300_000, sha256: sha256Hex(bytes(6)) });
      expect(await getBlob(store, ref.object)).toEqual(bytes(6));
      if (purgeByFilterLeaksUsage(nc.info!.version)) {
        // This machine's 2.9.10: deleteObject deletes chunk by chunk, which this identity may not.
        expect(failed.map((f) => f.object)).toEqual([samplerStateObject(RUN, 2)]);
        expect(failed[0].message).toContain(`Permissions Violation for Publish to "$JS.API.STREAM.MSG.DELETE.OBJ_${OBJECT_STORES.checkpoints}"`);
      } else {
        expect(failed).toEqual([]);
      }
      // The object is gone from the store either way (the purge by name took it); the kept ones stay.
      const live = (await store.list()).filter((o) => !o.deleted).map((o) => o.name).sort();
      expect(live).toEqual([samplerStateObject(RUN, 4), samplerStateObject(RUN, 6)]);
    } finally {
      await close();
    }
  });

  it("a put that is refused rejects, naming the refusal, and leaves nothing named", async () => {
    const { nc, close } = await serverWith(`{ deny: ["$O.${OBJECT_STORES.checkpoints}.>"] }`);
    try {
      const store = await openObjectStore(nc, OBJECT_STORES.checkpoints);
      await expect(publishSamplerState(nc, store, RUN, 2, bytes(2), [2])).rejects.toThrow(/Permissions Violation|permission/i);
      expect((await store.list()).filter((o) => !o.deleted)).toEqual([]);
    } finally {
      await close();
    }
  });
});
