// Qwen2- and Qwen3-style checkpoints through the public file path: written as transformers lays them out
// (tied embeddings leave lm_head out of the safetensors; bf16 weights are common), read back through
// decodeModelFiles, run by the ONNX forward graph and compared with the independent float64 reference.
import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { decodeModelFiles, encodeModelFiles } from "../src/hf/model-files.js";
import { parseSafetensors, serializeSafetensors } from "../src/hf/safetensors.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch } from "../src/llama/batch.js";
import { ForwardSession } from "../src/runtime/train-session.js";
import { buildDemoTokenizerJson } from "../src/tokenizer/demo.js";
import { type Weights } from "../src/tensor.js";
import { ReferenceLlama } from "./support/reference-llama.js";

const tokenizerJson = buildDemoTokenizerJson({ words: ["apples"] });
const base = {
  vocabSize: 300, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 64, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const CONFIGS: Record<string, LlamaConfig> = {
  "qwen2 (q/k/v bias, tied embeddings)": { ...base, modelType: "qwen2", attentionBias: true, qkNorm: false, tieWordEmbeddings: true },
  "qwen3 (q/k norm, head_dim 12)": { ...base, modelType: "qwen3", attentionBias: false, qkNorm: true, headDim: 12, tieWordEmbeddings: false },
};

/** Weights where biases and norms matter (not 0 / 1). */
function weightsFor(c: LlamaConfig): Weights {
  const w = initModel(c, 3, { initializerRange: 0.2 });
  for (const [name, t] of w) {
    if (name.endsWith(".bias")) t.data.forEach((_, i) => (t.data[i] = 0.2 * Math.cos(3 * i + name.length)));
    if (name.endsWith("norm.weight")) t.data.forEach((_, i) => (t.data[i] = 1 + 0.2 * Math.sin(i + name.length)));
  }
  return w;
}

describe("family checkpoints - file round trip and ONNX logits vs the float64 reference", () => {
  for (const [label, config] of Object.entries(CONFIGS)) {
    it(label, async () => {
      const weights = weightsFor(config);
      const files = encodeModelFiles({ config, weights, tokenizerJson, tokenizerConfigJson: null, generationConfig: null });
      const stored = parseSafetensors(files.get("model.safetensors")!).tensors;
      expect(stored.has("lm_head.weight")).toBe(!config.tieWordEmbeddings);
      const model = decodeModelFiles((f) => files.get(f) ?? null, label);
      expect(model.config).toEqual(config);

      const seqs = [[5, 9, 200, 17, 33, 2], [44, 45, 46]];
      const fwd = await ForwardSession.create(model.config);
      const batch = makeTokenBatch(seqs, { padSide: "left" });
      const logits = await fwd.logits(model.weights, batch);
      await fwd.release();
      const ref = new ReferenceLlama(config, weights);
      const T = 6, V = config.vocabSize;
      let maxErr = 0;
      seqs.forEach((s, b) => {
        const want = ref.logits([s])[0];
        const off = T - s.length; // left padding
        want.forEach((row, t) => row.forEach((v, k) => (maxErr = Math.max(maxErr, Math.abs(v - logits.data[(b * T + off + t) * V + k])))));
      });
      expect(maxErr).toBeLessThanOrEqual(1e-4);
    });
  }

  it("reads a bf16 checkpoint (as Qwen ships them) by widening to float32", () => {
    const config = CONFIGS["qwen2 (q/k/v bias, tied embeddings)"];
    const weights = weightsFor(config);
    // bf16 = the top 16 bits of float32 (truncation, to build the file)
    const bf16 = [...weights].map(([name, t]) => {
      const bits = new Uint32Array(Float32Array.from(t.data).buffer);
      const half = Uint16Array.from(bits, (x) => x >>> 16);
      return [name, half, t.shape] as const;
    });
    let offset = 0;
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    for (const [name, h, shape] of bf16) {
      header[name] = { dtype: "BF16", shape, data_offsets: [offset, offset + h.byteLength] };
      offset += h.byteLength;
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + offset);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    let pos = 8 + json.length;
    for (const [, h] of bf16) { bytes.set(new Uint8Array(h.buffer), pos); pos += h.byteLength; }
    const files = encodeModelFiles({ config, weights, tokenizerJson, tokenizerConfigJson: null, generationConfig: null });
    files.set("model.safetensors", bytes);
    const model = decodeModelFiles((f) => files.get(f) ?? null, "bf16");
    const name = "model.layers.0.self_attn.q_proj.bias";
    const want = Float32Array.from(weights.get(name)!.data, (x) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(x).buffer)[0] & 0xffff0000]).buffer)[0]);
    expect(model.weights.get(name)!.data).toEqual(want);
    expect(serializeSafetensors([...model.weights]).length).toBeGreaterThan(bytes.length); // stored back as float32
  });
});
