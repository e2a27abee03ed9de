// The host KV caches' memory (host-kv-cache.ts, kv-buffer-pool.ts): a cache grows and drops rows inside the
// buffer it was given, and a decoder hands a finished generation's buffers to the next one. Neither may change
// what a step reads: a view must read exactly as a freshly allocated, freshly copied one would, zeros included,
// whatever was left in the buffer before.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { KvBufferPool } from "../src/generate/kv-buffer-pool.js";
import { KvCache } from "../src/generate/kv-cache.js";
import { SlotKvCache } from "../src/generate/slot-kv-cache.js";
import { initModel } from "../src/init.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import type { Tensor } from "../src/tensor.js";
import { TINY_QWEN2 } from "./support/tiny-qwen2.js";

/** A step's keys and values [T, B, Hkv, hd] of distinct numbers, so a misplaced write shows. */
function slice(T: number, B: number, K: number, hd: number, layers: number, from: number) {
  const make = (o: number): Tensor<"float32">[] =>
    Array.from({ length: layers }, (_, l) => ({ dtype: "float32", shape: [T, B, K, hd], data: Float32Array.from({ length: T * B * K * hd }, (_, i) => from + o + l * 1e5 + i) }));
  return { newKeys: make(0), newValues: make(0.5) };
}

/** Every layer's keys and values as the graph would be fed them, copied out. */
function viewed(c: SlotKvCache): Float32Array[] {
  const s = c.slots();
  return [...s.keys, ...s.values].map((t) => Float32Array.from((t as Tensor<"float32">).data));
}

/** Buffers of NaN: left over in a pool, any of it read through a view would show. */
function poisoned(count: number, floats: number): ArrayBuffer[] {
  return Array.from({ length: count }, () => new Float32Array(floats).fill(Number.NaN).buffer);
}

describe("SlotKvCache - grows and drops rows in place", () => {
  const [layers, B, K, hd] = [2, 4, 2, 3];
  /** The same writes into two caches: one drawing NaN-filled buffers from a pool, one without a pool. */
  function pair(reserveBytes?: number) {
    const pool = new KvBufferPool();
    pool.give(poisoned(2 * layers, B * K * hd * 64));
    const pooled = new SlotKvCache(layers, B, K, hd, 5, 40, { pool, reserveBytes });
    const fresh = new SlotKvCache(layers, B, K, hd, 5, 40, { reserveBytes });
    return { pool, pooled, fresh, both: (f: (c: SlotKvCache) => void) => (f(pooled), f(fresh)) };
  }

  it("a regrow moves rows within the same buffer, and the new slots read zero, pooled NaN buffers included", () => {
    const { pool, pooled, fresh, both } = pair();
    expect(pool.bytes).toBe(0); // every poisoned buffer was taken: each had room for maxSteps
    both((c) => c.append(slice(3, B, K, hd, layers, 0)));
    const buffers = pooled.slots().keys.map((t) => (t as Tensor<"float32">).data.buffer);
    for (let t = 0; t < 6; t++) both((c) => c.append(slice(1, B, K, hd, layers, 1000 * (t + 1)))); // 5 -> 8 -> 12
    const after = pooled.slots();
    expect(after.keys[0].shape).toEqual([B, K, 12, hd]);
    after.keys.forEach((t, l) => expect((t as Tensor<"float32">).data.buffer).toBe(buffers[l]));
    expect(viewed(pooled)).toEqual(viewed(fresh));
    // Past P = 9 every slot of every row is zero, as in a newly allocated buffer.
    const [keys] = viewed(fresh);
    for (let r = 0; r < B * K; r++) for (let s = 9; s < 12; s++) for (let d = 0; d < hd; d++) expect(keys[(r * 12 + s) * hd + d]).toBe(0);
    for (const v of viewed(pooled)) expect(v.every(Number.isFinite)).toBe(true);
  });

  it("holds what the time-major cache holds through ascending drops (in place), repeats (gathered) and growth", () => {
    const { pooled, fresh, both } = pair();
    const times = new KvCache(layers, B, K, hd, 5, 40);
    const all = (s: ReturnType<typeof slice>) => (both((c) => c.append(s)), times.append(s));
    all(slice(4, B, K, hd, layers, 0));
    const before = pooled.slots().keys[0];
    for (const [keep, into] of [[[0, 2, 3], "the same buffer"], [[1, 1, 0], "a new buffer"], [[0, 2], "the same buffer"]] as const) {
      const buffer = (pooled.slots().keys[0] as Tensor<"float32">).data.buffer;
      both((c) => c.keepRows([...keep]));
      times.keepRows([...keep]);
      const now = (pooled.slots().keys[0] as Tensor<"float32">).data.buffer;
      expect(now === buffer, `keepRows([${keep}]) writes into ${into}`).toBe(into === "the same buffer");
      for (let t = 0; t < 4; t++) all(slice(1, keep.length, K, hd, layers, 10_000 * (t + 1)));
    }
    expect(before.shape).toEqual([B, K, 5, hd]);
    expect(viewed(pooled)).toEqual(viewed(fresh));
    const s = pooled.slots(), m = times.past();
    const C = s.keys[0].shape[2];
    for (let l = 0; l < layers; l++) {
      const [sk, sv] = [(s.keys[l] as Tensor<"float32">).data, (s.values[l] as Tensor<"float32">).data];
      const [mk, mv] = [(m.keys[l] as Tensor<"float32">).data, (m.values[l] as Tensor<"float32">).data];
      for (let t = 0; t < times.P; t++) {
        for (let b = 0; b < 2; b++) {
          for (let h = 0; h < K; h++) {
            for (let d = 0; d < hd; d++) {
              const at = ((t * 2 + b) * K + h) * hd + d;
              expect(sk[((b * K + h) * C + t) * hd + d]).toBe(mk[at]);
              expect(sv[((b * K + h) * C + t) * hd + d]).toBe(mv[at]);
            }
          }
        }
      }
    }
  });

  it("past what reserveBytes lets it reserve, a regrow allocates anew and copies (the same contents)", () => {
    // Room for 6 of the 40 steps: 2 layers x 2 (keys, values) x 4 rows x 6 numbers x 4 bytes = 384 bytes a step.
    const { pooled, fresh, both } = pair(6 * 384);
    const small = new SlotKvCache(layers, B, K, hd, 5, 40, { reserveBytes: 6 * 384 });
    both((c) => c.append(slice(5, B, K, hd, layers, 0)));
    small.append(slice(5, B, K, hd, layers, 0));
    const buffer = (small.slots().keys[0] as Tensor<"float32">).data.buffer;
    expect(buffer.byteLength).toBe(6 * B * K * hd * 4); // the reserve, not maxSteps
    small.append(slice(1, B, K, hd, layers, 7000)); // 5 -> 8 slots: past the 6 reserved
    both((c) => c.append(slice(1, B, K, hd, layers, 7000)));
    expect((small.slots().keys[0] as Tensor<"float32">).data.buffer).not.toBe(buffer);
    expect(viewed(small)).toEqual(viewed(fresh));
    expect(viewed(pooled)).toEqual(viewed(fresh));
  });

  it("release gives its buffers to the pool, and the next cache of that size takes them", () => {
    const pool = new KvBufferPool();
    const first = new SlotKvCache(layers, B, K, hd, 5, 40, { pool });
    first.append(slice(2, B, K, hd, layers, 0));
    const buffers = new Set([...first.slots().keys, ...first.slots().values].map((t) => (t as Tensor<"float32">).data.buffer));
    first.release();
    expect(pool.bytes).toBe(2 * layers * 40 * B * K * hd * 4);
    const second = new SlotKvCache(layers, B, K, hd, 5, 40, { pool });
    expect(pool.bytes).toBe(0);
    const taken = [...second.slots().keys, ...second.slots().values].map((t) => (t as Tensor<"float32">).data);
    for (const t of taken) {
      expect(buffers.has(t.buffer)).toBe(true);
      expect(t.every((x) => x === 0)).toBe(true); // cleared: the first cache wrote two steps there
    }
  });
});

describe("KvBufferPool", () => {
  it("takes the smallest spare buffer that is large enough, each once, and keeps only the last set given", () => {
    const pool = new KvBufferPool();
    const [a, b, c] = [new ArrayBuffer(400), new ArrayBuffer(80), new ArrayBuffer(200)];
    pool.give([a, b, c, c]);
    expect(pool.bytes).toBe(680);
    expect(pool.take(30)!.buffer).toBe(c);
    expect(pool.take(30)!.buffer).toBe(a);
    expect(pool.take(30)).toBeNull();
    expect(pool.take(20)!.buffer).toBe(b);
    pool.give([a]);
    pool.give([b]);
    expect(pool.bytes).toBe(80);
  });
});

describe("OnnxDecoder - generations reuse the last one's cache buffers", () => {
  const config: LlamaConfig = TINY_QWEN2;
  const weights = initModel(config, 3, { initializerRange: 0.3 });
  const prompts = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16], [17]];

  it("a second generation on one decoder, in the first's buffers, generates what a fresh decoder does", async () => {
    const used = await OnnxDecoder.create(config, weights);
    const fresh = await OnnxDecoder.create(config, weights);
    const opts = { maxNewTokens: 150, stopTokenIds: [] }; // past the first capacity (prompt + 128): one regrow
    const sampled = { maxNewTokens: 40, sampling: { temperature: 0.9, topK: 30, topP: 0.95 }, seed: 5, stopTokenIds: [2, 3, 4] };
    // Leave other prompts' keys and values in the buffers, then generate into them, batch-at-once and continuous.
    await generate(used, [...prompts].reverse().map((p) => [...p, 30, 31]), opts);
    const held = used.kvBytesHeld;
    expect(held).toBe(2 * 2 * 4 * (9 + 150) * 2 * 8 * 4); // keys and values of 2 layers: 4 rows x 159 steps x 16 numbers
    for (const o of [opts, sampled, { ...sampled, maxRows: 2 }]) {
      const again = await generate(used, prompts, o);
      const once = await generate(fresh, prompts, o);
      expect(again.tokens).toEqual(once.tokens);
      expect(again.logprobs).toEqual(once.logprobs);
      expect(used.kvBytesHeld).toBeGreaterThan(0);
    }
    await Promise.all([used.release(), fresh.release()]);
  });
});
