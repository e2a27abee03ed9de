// Token batches: padding, targets, positions (transformers' rule), splitting into micro-batches, and the
// forward session's log-probs against its own logits.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch, positionsFromMask, splitBatch } from "../src/llama/batch.js";
import { ForwardSession } from "../src/runtime/train-session.js";

const rows = (t: { shape: number[]; data: BigInt64Array | Float32Array }) =>
  Array.from({ length: t.shape[0] }, (_, b) => Array.from(t.data.subarray(b * t.shape[1], (b + 1) * t.shape[1]), Number));

describe("token batches", () => {
  it("batch - right padding: targets shift left, positions count from 0", () => {
    const b = makeTokenBatch([[5, 6, 7], [8]], { padId: 0 });
    expect(rows(b.inputIds)).toEqual([[5, 6, 7], [8, 0, 0]]);
    expect(rows(b.targets)).toEqual([[6, 7, 0], [0, 0, 0]]);
    expect(rows(b.attentionMask)).toEqual([[1, 1, 1], [1, 0, 0]]);
    expect(rows(b.positionIds)).toEqual([[0, 1, 2], [0, 1, 1]]);
  });
  it("batch - left padding: positions follow the mask, pads get 1 (as transformers)", () => {
    const b = makeTokenBatch([[5, 6, 7], [8, 9]], { padSide: "left", padId: 3, length: 4 });
    expect(rows(b.inputIds)).toEqual([[3, 5, 6, 7], [3, 3, 8, 9]]);
    expect(rows(b.targets)).toEqual([[3, 6, 7, 3], [3, 3, 9, 3]]);
    expect(rows(b.positionIds)).toEqual([[1, 0, 1, 2], [1, 1, 0, 1]]);
  });
  it("batch - positionsFromMask handles holes", () => {
    const m = { dtype: "int64" as const, shape: [1, 5], data: BigInt64Array.of(0n, 1n, 0n, 1n, 1n) };
    expect(rows(positionsFromMask(m))).toEqual([[1, 0, 1, 1, 2]]);
  });
  it("batch - bad input is named", () => {
    expect(() => makeTokenBatch([])).toThrow(/no sequences/);
    expect(() => makeTokenBatch([[1, 2, 3]], { length: 2 })).toThrow(/length 2 is shorter than the longest sequence \(3\)/);
    expect(() => makeTokenBatch([[1, -2]])).toThrow(/sequence 0 token 1 is -2/);
  });
  it("batch - splitBatch cuts every [B, ...] tensor and shares scalar extras", () => {
    const b = makeTokenBatch([[1, 2], [3, 4], [5, 6]]);
    b.extras = {
      adv: { dtype: "float32", shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) },
      count: { dtype: "float32", shape: [], data: Float32Array.of(6) },
    };
    const parts = splitBatch(b, 2);
    expect(parts.map((p) => p.inputIds.shape)).toEqual([[2, 2], [1, 2]]);
    expect(rows(parts[1].inputIds)).toEqual([[5, 6]]);
    expect(Array.from(parts[1].extras!.adv.data as Float32Array)).toEqual([Math.fround(0.3)]);
    expect(parts[1].extras!.count).toBe(b.extras.count);
    b.extras.bad = { dtype: "float32", shape: [2], data: new Float32Array(2) };
    expect(() => splitBatch(b, 2)).toThrow(/extras.bad has first dim 2, the batch has 3 rows/);
    expect(() => splitBatch(b, 0)).toThrow(/rows must be a positive integer/);
  });
});

describe("forward session", () => {
  const c: LlamaConfig = {
    modelType: "llama", vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 8,
    rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: true, attentionBias: false, qkNorm: false,
    bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
  };
  it("forward - log-probs equal log_softmax(logits) at the targets, in one pass or in parts", async () => {
    const w = initModel(c, 9, { initializerRange: 0.5 });
    const batch = makeTokenBatch([[3, 9, 27, 4, 5], [7, 7, 2], [33, 1, 2, 3]], { padSide: "left" });
    const [B, T] = batch.inputIds.shape;
    const s = await ForwardSession.create(c);
    const lp = await s.logprobs(w, batch);
    const parts = await s.logprobs(w, batch, 2);
    const logits = await s.logits(w, batch);
    await s.release();
    expect(Array.from(parts.data)).toEqual(Array.from(lp.data));
    const V = c.vocabSize;
    let err = 0;
    for (let i = 0; i < B * T; i++) {
      const row = logits.data.subarray(i * V, (i + 1) * V);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      err = Math.max(err, Math.abs(row[Number(batch.targets.data[i])] - lse - lp.data[i]));
    }
    expect(err).toBeLessThan(1e-5);
    expect(Math.min(...lp.data)).toBeLessThan(-1); // real log-probs, not zeros
  });
});
