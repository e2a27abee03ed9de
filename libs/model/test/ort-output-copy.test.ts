// Why the host KV cache is read in place by our own decode graph (SlotKvCache) rather than kept by onnxruntime's
// fused com.microsoft GroupQueryAttention with its past and present buffers shared: the operator does write the
// new token into the shared buffer in place, but onnxruntime-node hands every output back in a new buffer, even
// one the caller pre-allocated, so the present cache would be copied whole on every step. This test pins both
// facts; when it fails, the binding has changed and GroupQueryAttention is worth another look on the host.
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { Graph, attr } from "../src/graph/graph.js";
import { encodeModel } from "../src/graph/serialize.js";

describe("onnxruntime-node outputs", () => {
  it("GroupQueryAttention writes a shared past/present buffer in place, and the binding returns a copy of it", async () => {
    const [B, H, K, hd, M, P] = [2, 4, 2, 8, 16, 5];
    const g = new Graph("gqa_shared_buffer");
    const q = g.input("q", "float32", [B, 1, H * hd]);
    const k = g.input("k", "float32", [B, 1, K * hd]);
    const v = g.input("v", "float32", [B, 1, K * hd]);
    const pastKey = g.input("past_key", "float32", [B, K, M, hd]);
    const pastValue = g.input("past_value", "float32", [B, K, M, hd]);
    const seqlens = g.input("seqlens_k", "int32", [B]);
    const total = g.input("total_sequence_length", "int32", [1]);
    const outs = g.node("GroupQueryAttention" as never, [q, k, v, pastKey, pastValue, seqlens, total], [
      { dtype: "float32", shape: [B, 1, H * hd] }, { dtype: "float32", shape: [B, K, M, hd] }, { dtype: "float32", shape: [B, K, M, hd] },
    ], { num_heads: attr.int(H), kv_num_heads: attr.int(K) }, "com.microsoft");
    ["output", "present_key", "present_value"].forEach((name, i) => g.output(name, outs[i]));
    const session = await ort.InferenceSession.create(encodeModel(g), { executionProviders: ["cpu"], logSeverityLevel: 3 });

    const keys = new Float32Array(B * K * M * hd), values = new Float32Array(B * K * M * hd);
    const past = new ort.Tensor("float32", keys, [B, K, M, hd]), pastV = new ort.Tensor("float32", values, [B, K, M, hd]);
    const feeds = {
      q: new ort.Tensor("float32", new Float32Array(B * H * hd).fill(0.1), [B, 1, H * hd]),
      k: new ort.Tensor("float32", new Float32Array(B * K * hd).fill(0.7), [B, 1, K * hd]),
      v: new ort.Tensor("float32", new Float32Array(B * K * hd).fill(0.3), [B, 1, K * hd]),
      past_key: past, past_value: pastV,
      seqlens_k: new ort.Tensor("int32", new Int32Array(B).fill(P), [B]), // the new token's 0-based position
      total_sequence_length: new ort.Tensor("int32", Int32Array.of(P + 1), [1]),
    };
    const out = await session.run(feeds, { present_key: past, present_value: pastV });
    // In place: slot P of every (row, kv head) of our buffer holds the new key; the slots after it are untouched.
    for (let bh = 0; bh < B * K; bh++) {
      expect(keys[(bh * M + P) * hd]).toBeCloseTo(0.7, 6);
      expect(values[(bh * M + P) * hd]).toBeCloseTo(0.3, 6);
      expect(keys[(bh * M + P + 1) * hd]).toBe(0);
    }
    // Yet what comes back is another buffer holding the same numbers: a copy of the whole cache per run.
    const present = out.present_key.data as Float32Array;
    expect(present.buffer).not.toBe(keys.buffer);
    expect(Array.from(present)).toEqual(Array.from(keys));
    await session.release();
  });
});
