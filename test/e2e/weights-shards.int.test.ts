// Weights by shard (issue 16): the learner publishes a version as one object per safetensors shard with
// every shard's digest in the pointer, and a rollout actor writes the tensors into its weights shard by shard
// (never two models in memory), bit-exact, on a real nats-server with real ORT sessions. BF16 on the wire halves the bytes and gives exactly what a
// bf16 file of the same weights gives; a shard that is not what the pointer says is refused, naming it; a
// pointer from an older publisher (one object) still loads.
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KV_BUCKETS, OBJECT_STORES, jetstreamManager, kvPut, openKv, openObjectStore, putBlob, startNatsServer, connectBus, type NatsConnection, type NatsServer } from "@lspo/bus";
import { concatParts, safetensorsParts, serializeSafetensors, type Weights } from "@lspo/model";
import { WeightsPublisher } from "@lspo/learner";
import { Policy, RefusedWeightsError, WeightsFollower } from "@lspo/rollout";
import { readModelDir } from "@lspo/tasks";

const root = resolve(import.meta.dirname, "../..");
const modelDir = join(root, "configs/models/demo-base");
let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ url: server.url, name: "weights-shards" });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** The model directory's weights, each float moved a little (so a version differs from the base). */
function perturbed(seed: number): Weights {
  const out: Weights = new Map();
  let s = seed;
  for (const [name, t] of readModelDir(modelDir).weights) {
    const data = Float32Array.from(t.data as Float32Array, (x) => {
      s = (s * 1103515245 + 12345) >>> 0;
      return x + ((s / 2 ** 32) - 0.5) * 1e-2;
    });
    out.set(name, { ...t, data });
  }
  return out;
}

const PROMPTS = [[1, 5, 9, 11], [1, 7]];
const greedy = (p: Policy) => p.generate(PROMPTS, { maxNewTokens: 8 });

describe("e2e - weights by shard", { timeout: 120_000 }, () => {
  it("a version in many shards arrives bit-exact; bf16 on the wire gives exactly a bf16 file's weights", async () => {
    const weights = perturbed(7);
    const publisher = await WeightsPublisher.open(nc, "shards", 1, 3, { maxShardBytes: 64 << 10 });
    const ref = await publisher.publish(weights, 1, 1);
    expect(ref.shards.length).toBeGreaterThan(3);
    expect(ref.dtype).toBe("F32");
    expect(ref.sizeBytes).toBe(ref.shards.reduce((n, s) => n + s.sizeBytes, 0n));
    expect(new Set(ref.shards.map((s) => s.objectName)).size).toBe(ref.shards.length);

    const follower = await WeightsFollower.open(nc, "shards");
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const base = await greedy(policy);
    expect(await follower.sync(policy)).toBe(true);
    expect(policy.version).toBe(1);
    // The same weights from one file (the single-object path): the same tokens and log-probs, to the bit.
    const direct = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    await direct.setWeights([serializeSafetensors(weights)], 1);
    const fromShards = await greedy(policy);
    expect(fromShards).toEqual(await greedy(direct));
    expect(fromShards.logprobs).not.toEqual(base.logprobs);

    // BF16: half the bytes on the wire, and exactly the weights a bf16 safetensors file of them holds.
    const bf16 = await WeightsPublisher.open(nc, "shards-bf16", 1, 3, { maxShardBytes: 64 << 10, dtype: "BF16" });
    const ref16 = await bf16.publish(weights, 2, 2);
    expect(ref16.dtype).toBe("BF16");
    expect(Number(ref16.sizeBytes)).toBeLessThan(0.55 * Number(ref.sizeBytes));
    const p16 = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    expect(await (await WeightsFollower.open(nc, "shards-bf16")).sync(p16)).toBe(true);
    const asBf16File = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    await asBf16File.setWeights([concatParts(safetensorsParts(weights, null, { float32As: "BF16" }))], 2);
    const r16 = await greedy(p16);
    expect(r16).toEqual(await greedy(asBf16File));
    expect(r16.logprobs).not.toEqual(fromShards.logprobs);
  });

  it("a shard that is not what the pointer says is refused, naming it; an older single-object pointer still loads", async () => {
    const weights = perturbed(11);
    const publisher = await WeightsPublisher.open(nc, "tampered", 1, 3, { maxShardBytes: 64 << 10 });
    const ref = await publisher.publish(weights, 1, 1);
    // Someone replaces shard 2's object with other bytes (a valid object to the store, not the learner's).
    const store = await openObjectStore(nc, OBJECT_STORES.weights);
    await putBlob(store, ref.shards[1].objectName, new Uint8Array(Number(ref.shards[1].sizeBytes)).fill(3));
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const tampered = (await WeightsFollower.open(nc, "tampered")).sync(policy);
    await expect(tampered).rejects.toThrow(
      new RegExp(`weights v1 shard 2/${ref.shards.length} '${ref.shards[1].objectName.replace(/[.$/]/g, "\\$&")}': \\d+ bytes with SHA-256 [0-9a-f]{64}, the pointer says`),
    );
    // Refused as a version the actor holds its prompts on until the pointer moves (not retried as a failed read).
    await expect(tampered).rejects.toBeInstanceOf(RefusedWeightsError);
    expect(policy.version).toBe(0);
    // Shards are written into the weights in place: a failed update leaves them torn, and the policy refuses
    // to generate until a version arrives whole.
    await expect(greedy(policy)).rejects.toThrow(/half-written \(weights v1 did not finish\)/);
    const fixed = await publisher.publish(weights, 2, 2);
    expect(await (await WeightsFollower.open(nc, "tampered")).sync(policy)).toBe(true);
    expect(policy.version).toBe(2);
    const reference = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    await reference.setWeights([serializeSafetensors(weights)], 2);
    expect(await greedy(policy)).toEqual(await greedy(reference));
    expect(fixed.shards.length).toBe(ref.shards.length);

    // A pointer as older publishers wrote it: one object, its digest, no shards.
    const bytes = serializeSafetensors(weights);
    await putBlob(store, "legacy/v3.safetensors", bytes);
    const kv = await openKv(nc, KV_BUCKETS.weights);
    await kvPut(kv, "legacy", "WeightsRef", {
      version: 3n, step: 3n, objectName: "legacy/v3.safetensors", sizeBytes: BigInt(bytes.byteLength),
      sha256: createHash("sha256").update(bytes).digest("hex"), publishedAt: new Date(),
    });
    const legacy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    expect(await (await WeightsFollower.open(nc, "legacy")).sync(legacy)).toBe(true);
    expect(legacy.version).toBe(3);
    const direct = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    await direct.setWeights([bytes], 3);
    expect(await greedy(legacy)).toEqual(await greedy(direct));
  });

  it("half-written weights load whatever the pointer names, a version 0 too (a learner started over from the model directory)", async () => {
    const publisher = await WeightsPublisher.open(nc, "torn-v0", 1, 3, { maxShardBytes: 64 << 10 });
    const ref = await publisher.publish(perturbed(17), 1, 1);
    const store = await openObjectStore(nc, OBJECT_STORES.weights);
    await putBlob(store, ref.shards[1].objectName, new Uint8Array(Number(ref.shards[1].sizeBytes)).fill(3));
    const follower = await WeightsFollower.open(nc, "torn-v0");
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const base = await greedy(await Policy.load({ modelDir, device: "cpu", threads: 1 }));
    await expect(follower.sync(policy)).rejects.toThrow(/weights v1 shard 2\/\d+ .*the pointer says/);
    expect(policy.halfWritten).toBe(true);
    expect(policy.version).toBe(0); // the version before the failed update, which the weights no longer are
    // The learner starts over and publishes the model directory's weights as version 0: the actor, at "version
    // 0" but half-written, must load them, not take the pointer for what it holds.
    await publisher.publish(readModelDir(modelDir).weights, 0, 0);
    expect(await follower.behind(policy)).toBe(true);
    expect(await follower.sync(policy)).toBe(true);
    expect(policy.halfWritten).toBe(false);
    expect(policy.version).toBe(0);
    expect(await greedy(policy)).toEqual(base);
  });

  it("versions beyond `keep` are deleted and their bytes leave the account's JetStream usage", async () => {
    // On nats-server < 2.9.15 (this machine's is 2.9.10) the object store's own delete left every deleted
    // version counted against the account (a purge by subject filter): a model's size per step, until
    // JetStream refused writes. deleteObject (libs/bus) deletes the chunks one by one there.
    const jsm = await jetstreamManager(nc);
    const held = async () => {
      let bytes = 0;
      for await (const s of jsm.streams.list()) bytes += s.state.bytes;
      return bytes;
    };
    const phantom = async () => (await jsm.getAccountInfo()).storage - (await held());
    const before = await phantom();
    const publisher = await WeightsPublisher.open(nc, "kept-3", 1, 3, { maxShardBytes: 64 << 10 });
    const weights = perturbed(13);
    let versionBytes = 0;
    for (let v = 1; v <= 8; v++) versionBytes = Number((await publisher.publish(weights, v, v)).sizeBytes);
    await publisher.deleted(); // old versions go in the background
    const store = await openObjectStore(nc, OBJECT_STORES.weights);
    const live = new Set<string>();
    for (const o of await store.list()) if (o.name.startsWith("kept-3/") && !o.deleted) live.add(o.name.split("/")[1]);
    expect(live.size).toBe(3); // v6, v7 and v8
    // Five versions deleted; what the account counts beyond the streams is at most the replaced metadata
    // records (a few hundred bytes per object), far below one version's bytes.
    const leaked = (await phantom()) - before;
    expect(versionBytes).toBeGreaterThan(1_000_000);
    expect(leaked).toBeLessThan(0.05 * versionBytes);
  });

  it("an old version that cannot be deleted is reported by object, and publishing goes on", async () => {
    // A learner whose identity may not purge or delete messages (permissions left out of its account): every
    // delete fails on any server, and the failures reach onDeleteFailed (the learner logs them) instead of vanishing.
    const restricted = await startNatsServer({
      config: `authorization { users = [ { user: "learner", password: "l", permissions: { publish: { deny: ["$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>"] } } } ] }`,
    });
    const learnerNc = await connectBus({ url: restricted.url, name: "weights-undeletable", user: "learner", password: "l" });
    try {
      const failed: { name: string; message: string }[] = [];
      const publisher = await WeightsPublisher.open(learnerNc, "undeletable", 1, 2, {
        maxShardBytes: 64 << 10,
        onDeleteFailed: (name, err) => failed.push({ name, message: err.message }),
      });
      const weights = perturbed(21);
      const refs = [];
      for (let v = 1; v <= 4; v++) refs.push(await publisher.publish(weights, v, v));
      await publisher.deleted();
      // keep 2: versions 1 and 2 were to go, each of their shards reported once, in order, with the server's reason
      const expected = refs.slice(0, 2).flatMap((r) => r.shards.map((s) => s.objectName));
      expect(failed.map((f) => f.name)).toEqual(expected);
      for (const f of failed) expect(f.message).toMatch(/Permissions Violation for Publish to "\$JS\.API\.STREAM\.(PURGE|MSG\.DELETE)\.OBJ_lspo-weights"/);
      // the newest versions are whole and readable
      const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
      expect(await (await WeightsFollower.open(learnerNc, "undeletable")).sync(policy)).toBe(true);
      expect(policy.version).toBe(4);
    } finally {
      await learnerNc.close();
      await restricted.stop();
    }
  });
});
