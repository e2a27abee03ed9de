// The run's base model for hosts without model.dir: published by the controller into the object store, fetched
// into a local cache by an actor, each file's SHA-256 checked. Real nats-server.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OBJECT_STORES, jetstream, jetstreamManager, localModelDir, openObjectStore, publishModelDir, startLocalBus, type LocalBus } from "@lspo/bus";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("bus - model files over NATS", { timeout: 60_000 }, () => {
  it("fetches a digest-checked copy where model.dir does not exist, and uses model.dir where it does", async () => {
    const src = mkdtempSync(join(tmpdir(), "lspo-model-src-"));
    writeFileSync(join(src, "config.json"), JSON.stringify({ model_type: "llama" }));
    writeFileSync(join(src, "tokenizer.json"), "{}");
    const weights = Buffer.alloc(3 * 1024 * 1024 + 17, 7); // several object-store chunks
    weights[12345] = 1;
    writeFileSync(join(src, "model.safetensors"), weights);
    const manifest = await publishModelDir(bus.nc, "mrun", src);
    expect(Object.keys(manifest.files).sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json"]);

    expect(await localModelDir(bus.nc, "mrun", src, tmpdir())).toBe(src);
    const cache = mkdtempSync(join(tmpdir(), "lspo-model-cache-"));
    const got = await localModelDir(bus.nc, "mrun", "/nonexistent/controller/path", cache);
    expect(got).toBe(join(cache, "lspo-models", "mrun"));
    expect(readFileSync(join(got, "model.safetensors")).equals(weights)).toBe(true);
    expect(readFileSync(join(got, "config.json"), "utf8")).toBe(JSON.stringify({ model_type: "llama" }));

    // A damaged cached copy is fetched again.
    writeFileSync(join(got, "tokenizer.json"), "tampered");
    await localModelDir(bus.nc, "mrun", "/nonexistent", cache);
    expect(readFileSync(join(got, "tokenizer.json"), "utf8")).toBe("{}");

    // A stored file that does not match the manifest's digest is refused, naming the file.
    const store = await openObjectStore(bus.nc, OBJECT_STORES.models);
    await store.putBlob({ name: "mrun/tokenizer.json" }, new TextEncoder().encode("not the tokenizer"));
    writeFileSync(join(got, "tokenizer.json"), "x");
    await expect(localModelDir(bus.nc, "mrun", "/nonexistent", cache)).rejects.toThrow(/model file 'tokenizer.json' of run 'mrun' fetched with SHA-256 .* but the manifest says/);

    // A run that never published a model: the error says so.
    await expect(localModelDir(bus.nc, "other", "/nonexistent", cache)).rejects.toThrow(/does not exist on this host, and run 'other' has no model/);
    expect(existsSync(join(cache, "lspo-models", "other"))).toBe(false);

    // A manifest that is there but unreadable (its bytes no longer match its digest) is not "no model": the
    // error names what the read found.
    await publishModelDir(bus.nc, "corrupt", src);
    const subject = `$O.${OBJECT_STORES.models}.C.${(await store.info("corrupt/manifest.json"))!.nuid}`;
    const jsm = await jetstreamManager(bus.nc);
    const chunk = (await jsm.direct.getMessage(`OBJ_${OBJECT_STORES.models}`, { next_by_subj: subject, seq: 0 }))!;
    await jsm.streams.deleteMessage(`OBJ_${OBJECT_STORES.models}`, chunk.seq);
    await jetstream(bus.nc).publish(subject, new Uint8Array(chunk.data.byteLength).fill(32));
    await expect(localModelDir(bus.nc, "corrupt", "/nonexistent", cache)).rejects.toThrow(/the model manifest of run 'corrupt' in the '.+' object store could not be read: .*digests do not match/);
  });

  it("leaves another process's file in flight alone (an agent's actors share one cache)", async () => {
    const src = mkdtempSync(join(tmpdir(), "lspo-model-src-"));
    writeFileSync(join(src, "config.json"), JSON.stringify({ model_type: "llama" }));
    await publishModelDir(bus.nc, "crun", src);
    const cache = mkdtempSync(join(tmpdir(), "lspo-model-cache-"));
    const dir = join(cache, "lspo-models", "crun");
    mkdirSync(dir, { recursive: true });
    // What a second actor of the same pod is writing at this moment: the clean-up of stale files used to
    // delete it, and that actor's rename failed with ENOENT (seen on the live cluster check).
    const inFlight = join(dir, "config.json.part-4242-0a0b0c0d");
    writeFileSync(inFlight, "half");
    writeFileSync(join(dir, "stale-from-an-older-model.bin"), "old");
    await localModelDir(bus.nc, "crun", "/nonexistent", cache);
    expect(readdirSync(dir).sort()).toEqual(["config.json", "config.json.part-4242-0a0b0c0d"]);
  });

  it("waits for a model the controller has not published yet, when asked to", async () => {
    const src = mkdtempSync(join(tmpdir(), "lspo-model-src-"));
    writeFileSync(join(src, "config.json"), JSON.stringify({ model_type: "llama" }));
    const said: string[] = [];
    const fetched = localModelDir(bus.nc, "late", "/nonexistent", mkdtempSync(join(tmpdir(), "lspo-model-cache-")), 30_000, (m) => said.push(m));
    await new Promise((r) => setTimeout(r, 1500));
    await publishModelDir(bus.nc, "late", src);
    expect(readFileSync(join(await fetched, "config.json"), "utf8")).toBe(JSON.stringify({ model_type: "llama" }));
    expect(said[0]).toMatch(/waiting for the controller of run 'late' to publish its model/);
  });
});
