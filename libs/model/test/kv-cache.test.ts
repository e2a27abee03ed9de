import { describe, expect, it } from "vitest";
import { KvCache } from "../src/generate/kv-cache.js";
import { type Tensor } from "../src/tensor.js";

const L = 2, Hkv = 2, hd = 3, W = Hkv * hd;
/** A slice [T, B, Hkv, hd] whose values encode (layer, kind, step, row, feature). */
function slice(l: number, kind: number, t0: number, T: number, rows: number[]): Tensor<"float32"> {
  const B = rows.length;
  const data = new Float32Array(T * B * W);
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let f = 0; f < W; f++) data[(t * B + b) * W + f] = l * 1e6 + kind * 1e5 + (t0 + t) * 1e3 + rows[b] * 10 + f;
  return { dtype: "float32", shape: [T, B, Hkv, hd], data };
}
const expectPast = (cache: KvCache, rows: number[]) => {
  const past = cache.past();
  for (let l = 0; l < L; l++) {
    expect(past.keys[l].shape).toEqual([cache.P, rows.length, Hkv, hd]);
    expect(Array.from(past.keys[l].data)).toEqual(Array.from(slice(l, 0, 0, cache.P, rows).data));
    expect(Array.from(past.values[l].data)).toEqual(Array.from(slice(l, 1, 0, cache.P, rows).data));
  }
};

describe("KvCache - time-major, growing, compacting", () => {
  it("appends a prefill and single steps, growing past its initial capacity, and keeps rows", () => {
    const rows = [0, 1, 2, 3];
    const cache = new KvCache(L, 4, Hkv, hd, 3, 40);
    const step = (t0: number, T: number, r: number[]) => cache.append({ newKeys: [0, 1].map((l) => slice(l, 0, t0, T, r)), newValues: [0, 1].map((l) => slice(l, 1, t0, T, r)) });
    step(0, 3, rows);
    expectPast(cache, rows);
    for (let t = 3; t < 20; t++) step(t, 1, rows); // grows 3 -> 6 -> 12 -> 24
    expect(cache.P).toBe(20);
    expectPast(cache, rows);
    cache.keepRows([1, 3]);
    expect(cache.B).toBe(2);
    expectPast(cache, [1, 3]);
    for (let t = 20; t < 40; t++) step(t, 1, [1, 3]);
    expectPast(cache, [1, 3]);
    expect(() => step(40, 1, [1, 3])).toThrow(/41 steps exceed the limit of 40/);
  });

  it("past views share the cache's memory (zero-copy feeds)", () => {
    const cache = new KvCache(1, 1, 1, 2, 4, 4);
    cache.append({ newKeys: [{ dtype: "float32", shape: [1, 1, 1, 2], data: Float32Array.of(1, 2) }], newValues: [{ dtype: "float32", shape: [1, 1, 1, 2], data: Float32Array.of(3, 4) }] });
    const a = cache.past().keys[0].data, b = cache.past().keys[0].data;
    expect(a.buffer).toBe(b.buffer);
    expect(cache.past().keys[0].data.length).toBe(2);
  });
});
