// A weights version holding a value that is not finite (NaN, ±Infinity) is refused before the policy uses it:
// every sample of it would fail, so its prompts would be retried until they were dead-lettered. The refusal names
// the tensor and the value's index, and leaves the policy generating as before where nothing was written yet.
// Then the continuous loop (stream.ts) with weights refused: the prompts it took are held, neither failed nor given
// back, until the pointer names other weights; a drain meanwhile gives them back. Real policy, real ORT sessions;
// the deliveries and the follower are stand-ins (the same on real NATS: test/e2e/rollout-refused-weights).
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serializeSafetensors, type Weights } from "@lspo/model";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";
import { readModelDir } from "@lspo/tasks";
import { Intake } from "../src/intake.js";
import { Policy, RefusedWeightsError, type WeightsFollower } from "../src/policy.js";
import { streamLoop, type StreamDeps } from "../src/stream.js";
import { deliveries, loopDeps, subscription } from "./support/loop-stand-ins.js";

const modelDir = fileURLToPath(new URL("../../../test/fixtures/hf/llama", import.meta.url));
const PROMPTS = [[1, 5, 9, 11], [1, 7]];
const greedy = (p: Policy) => p.generate(PROMPTS, { maxNewTokens: 6 });

/** The fixture's weights with every value moved (a version that differs), and `poison` written at one index. */
function version(poison?: { tensor: string; index: number; value: number }): Weights {
  const out: Weights = new Map();
  for (const [name, t] of readModelDir(modelDir).weights) {
    const data = Float32Array.from(t.data as Float32Array, (x, i) => x * 0.9 + (i % 7) * 1e-3);
    if (poison?.tensor === name) data[poison.index] = poison.value;
    out.set(name, { ...t, data });
  }
  return out;
}

/** `w` as two safetensors shards: the first half of its tensors (by name order), then the rest. */
function twoShards(w: Weights): Uint8Array[] {
  const names = [...w.keys()].sort();
  const half = Math.ceil(names.length / 2);
  return [names.slice(0, half), names.slice(half)].map((part) => serializeSafetensors(new Map(part.map((n) => [n, w.get(n)!]))));
}

async function* yieldAll(shards: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* shards;
}

describe("rollout - weights with a value that is not finite are refused", () => {
  it("a single file: refused before the swap, naming the tensor and index; the policy keeps its weights and version", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const before = await greedy(policy);
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const err = await policy.setWeights([serializeSafetensors(version({ tensor: "model.layers.1.mlp.up_proj.weight", index: 37, value }))], 1).catch((e: Error) => e);
      expect(err).toBeInstanceOf(RefusedWeightsError);
      expect((err as Error).message).toBe(
        `weights v1: tensor 'model.layers.1.mlp.up_proj.weight' holds ${value} at flat index 37 of ${readModelDir(modelDir).weights.get("model.layers.1.mlp.up_proj.weight")!.data.length}; a version with a value that is not finite is refused`,
      );
      expect(policy.version).toBe(0);
      expect(await greedy(policy)).toEqual(before);
    }
    // The largest finite float32 is a value like any other.
    await policy.setWeights([serializeSafetensors(version({ tensor: "model.norm.weight", index: 0, value: 3.4028234663852886e38 }))], 2);
    expect(policy.version).toBe(2);
  });

  it("in place, by shard: a refused first shard writes nothing; a refused later shard leaves the policy torn until a whole version arrives", async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const before = await greedy(policy);
    const names = [...readModelDir(modelDir).weights.keys()].sort();
    const inFirst = names[0];
    const inSecond = names[names.length - 1];

    const first = await policy.updateInPlace(1, yieldAll(twoShards(version({ tensor: inFirst, index: 3, value: Number.NaN })))).catch((e: Error) => e);
    expect(first).toBeInstanceOf(RefusedWeightsError);
    expect((first as Error).message).toMatch(new RegExp(`^weights v1: tensor '${inFirst.replace(/\./g, "\\.")}' holds NaN at flat index 3 of `));
    expect(policy.version).toBe(0);
    expect(await greedy(policy)).toEqual(before); // nothing of it was written

    const later = await policy.updateInPlace(2, yieldAll(twoShards(version({ tensor: inSecond, index: 0, value: Number.NEGATIVE_INFINITY })))).catch((e: Error) => e);
    expect(later).toBeInstanceOf(RefusedWeightsError);
    expect((later as Error).message).toMatch(new RegExp(`^weights v2: tensor '${inSecond.replace(/\./g, "\\.")}' holds -Infinity at flat index 0 of `));
    // The first shard went in: the weights are neither version, and the policy will not generate with them.
    await expect(greedy(policy)).rejects.toThrow("the policy's weights are half-written (weights v2 did not finish): they must be synced before generating");

    // A whole version writes every tensor again: exactly what the same weights from one file give.
    const good = version();
    await policy.updateInPlace(3, yieldAll(twoShards(good)));
    const direct = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    await direct.setWeights([serializeSafetensors(good)], 3);
    expect(policy.version).toBe(3);
    expect(await greedy(policy)).toEqual(await greedy(direct));
  });
});

/**
 * A follower as WeightsFollower behaves on a pointer that names a refused version until `repoint()`: its sync
 * throws the refusal (the same error each time, as the real one remembers it), and holdWhileRefused waits, reading
 * the "pointer" every 10 ms, until it is repointed (true) or the actor stops (false).
 */
function refusingFollower() {
  const refusal = new RefusedWeightsError("weights v1: tensor 'model.norm.weight' holds NaN at flat index 0 of 64; a version with a value that is not finite is refused");
  let pointerRefused = true;
  let refusedSeen = false;
  const follower = {
    sync: async () => {
      if (pointerRefused) {
        refusedSeen = true;
        throw refusal;
      }
      return false;
    },
    behind: async () => false,
    holdWhileRefused: async (stopped: () => boolean) => {
      while (refusedSeen) {
        if (stopped()) return false;
        if (!pointerRefused) refusedSeen = false;
        else await new Promise((r) => setTimeout(r, 10));
      }
      return true;
    },
  };
  return { follower: follower as unknown as WeightsFollower, refusal, repoint: () => void (pointerRefused = false) };
}

/** The loop's stand-ins, with a follower whose pointer names a refused version, and failures that fail the test. */
function refusedDeps(policy: Policy, intake: Intake<PromptRequest>, over: Partial<StreamDeps>): StreamDeps {
  return loopDeps(policy, intake, {
    weights: refusingFollower().follower,
    options: { actor: "a", maxNewTokens: 6, temperature: 1, topP: 1, topK: 0, seed: 1, maxRows: 4 },
    failed: async (err) => {
      throw err;
    },
    refused: (err) => err instanceof RefusedWeightsError,
    ackWaitMs: 3000, // held prompts report progress every second
    ...over,
  });
}

describe("rollout continuous mode - weights refused", () => {
  it("holds the prompts it took (kept alive, none failed or given back) and generates them all once the pointer moves", { timeout: 30_000 }, async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const { list, fates } = deliveries(4, 3);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    const { follower, refusal, repoint } = refusingFollower();
    const reported: unknown[] = [];
    const published: RolloutGroup[] = [];
    const loop = streamLoop(refusedDeps(policy, intake, {
      weights: follower,
      refused: (err) => (err instanceof RefusedWeightsError ? (reported.push(err), true) : false),
      publish: async (group, d) => {
        published.push(group);
        d.ack();
        if (published.length === list.length) sub.end();
      },
    }));
    await new Promise((r) => setTimeout(r, 1500));
    const state = () => JSON.stringify([...fates]);
    expect(published, state()).toEqual([]);
    expect([...fates.values()].every((f) => f.acked === 0 && f.naked === 0), state()).toBe(true);
    // The prompts it took were kept alive while held (the keep-alive runs every ackWaitMs / 3 = 1 s).
    expect([...fates.values()].some((f) => f.working > 0), state()).toBe(true);
    expect(reported).toEqual([refusal]);
    repoint();
    await loop;
    expect(published.map((g) => g.uid).sort()).toEqual(list.map((d) => d.body.uid));
    expect([...fates.values()].every((f) => f.acked === 1 && f.naked === 0), state()).toBe(true);
  });

  it("a drain while held gives back every prompt it took, and none is failed", { timeout: 30_000 }, async () => {
    const policy = await Policy.load({ modelDir, device: "cpu", threads: 1 });
    const { list, fates } = deliveries(4, 3);
    const sub = subscription(list);
    const intake = new Intake(sub.source, 2);
    let draining = false;
    const loop = streamLoop(refusedDeps(policy, intake, { draining: () => draining }));
    await new Promise((r) => setTimeout(r, 300));
    draining = true;
    sub.end();
    await loop;
    const taken = [...fates].filter(([, f]) => f.naked > 0).map(([uid]) => uid);
    // The intake had read ahead (2 per pull): those were taken and go back; the rest stay on the stream.
    expect(taken.length).toBeGreaterThan(0);
    expect([...fates.values()].every((f) => f.acked === 0 && f.naked <= 1)).toBe(true);
  });
});
