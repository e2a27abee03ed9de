// Object store on a real nats-server: blobs larger than the max payload round-trip byte for byte, hashed
// with node:crypto (set by @lspo/bus on import).
import { randomFillSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getSha256Backend } from "@nats-io/obj";
import { ObjectChangedError, getBlob, jetstream, jetstreamManager, openObjectStore, putBlob, startLocalBus, type LocalBus } from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("stores - object store", () => {
  it("hashes with node:crypto, not the object store's pure-JS default", () => {
    expect(getSha256Backend()).toBe("native");
  });

  it("round-trips a multi-chunk blob byte for byte, and names a missing object", async () => {
    const store = await openObjectStore(bus.nc, "test-blobs");
    const blob = randomFillSync(new Uint8Array(3 * 1024 * 1024 + 17)); // 25 chunks of 128 KB, the last partial
    await putBlob(store, "w-1", blob);
    const got = await getBlob(store, "w-1");
    expect(got.byteLength).toBe(blob.byteLength);
    expect(Buffer.compare(got, blob)).toBe(0);
    await expect(getBlob(store, "nope")).rejects.toThrow(/'nope' not found/);
    await expect(getBlob(store, "nope")).rejects.toMatchObject({ name: "ObjectChangedError", object: "nope", reason: "missing" });
  });

  it("refuses an object whose chunks were tampered with: the digest no longer matches", async () => {
    const store = await openObjectStore(bus.nc, "test-tamper");
    const jsm = await jetstreamManager(bus.nc);
    const js = jetstream(bus.nc);
    const blob = randomFillSync(new Uint8Array(512 * 1024)); // 4 chunks of 128 KB
    const tampers = {
      // Replace the first chunk with different bytes of the same length.
      "same-size": async (subject: string, firstSeq: number) => {
        await jsm.streams.deleteMessage("OBJ_test-tamper", firstSeq);
        await js.publish(subject, randomFillSync(new Uint8Array(128 * 1024)));
      },
      // One more chunk than the object records.
      "extra-chunk": async (subject: string) => {
        await js.publish(subject, new Uint8Array(10));
      },
    };
    for (const [name, tamper] of Object.entries(tampers)) {
      await putBlob(store, name, blob);
      const subject = `$O.test-tamper.C.${(await store.info(name))!.nuid}`;
      const first = await jsm.direct.getMessage("OBJ_test-tamper", { next_by_subj: subject, seq: 0 });
      await tamper(subject, first!.seq);
      await expect(getBlob(store, name), name).rejects.toThrow(/digests do not match/);
      // Typed, for a reader that reads again when the object changed under it (the learner's readSamplerState).
      const err = await getBlob(store, name).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ObjectChangedError);
      expect(err, name).toMatchObject({ object: name, reason: "digest" });
    }
  });

  it("refuses bytes that disagree with the object's recorded size, even when the digest matches", async () => {
    const store = await openObjectStore(bus.nc, "test-size");
    const jsm = await jetstreamManager(bus.nc);
    const js = jetstream(bus.nc);
    const blob = randomFillSync(new Uint8Array(300 * 1024));
    for (const [name, delta, message] of [
      ["recorded-smaller", -1, /has more than its recorded 307199 bytes/],
      ["recorded-larger", +1, /ended after 307200 of its recorded 307201 bytes/],
    ] as const) {
      await putBlob(store, name, blob);
      // Rewrite the object's metadata (its latest message on the meta subject) with another size.
      const padded = Buffer.from(name).toString("base64").replaceAll("+", "-").replaceAll("/", "_"); // nats obj: base64url, padded
      const metaSubject = `$O.test-size.M.${padded}`;
      const meta = await jsm.direct.getMessage("OBJ_test-size", { last_by_subj: metaSubject });
      const info = JSON.parse(new TextDecoder().decode(meta!.data)) as { size: number };
      await js.publish(metaSubject, new TextEncoder().encode(JSON.stringify({ ...info, size: info.size + delta })));
      await expect(getBlob(store, name), name).rejects.toThrow(message);
      await expect(getBlob(store, name), name).rejects.toMatchObject({ name: "ObjectChangedError", reason: "size" });
    }
  });
});
