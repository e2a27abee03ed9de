// generate() driving the real ONNX inference graph (OnnxDecoder), against the same loop driven by the
// float64 reference decoder: same sampled tokens for a fixed seed, log-probs within float32 error, and the
// batch-compaction path (new cache buffers fed as zero-copy views) exercised on onnxruntime.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { initModel } from "../src/init.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { ReferenceLlama } from "./support/reference-llama.js";

const config: LlamaConfig = {
  modelType: "qwen2", vocabSize: 48, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 128, tieWordEmbeddings: true,
  attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const weights = initModel(config, 11, { initializerRange: 0.3 });
for (const [name, t] of weights) if (name.endsWith(".bias")) t.data.forEach((_, i) => (t.data[i] = 0.1 * Math.sin(i + name.length)));
const reference = new ReferenceLlama(config, weights).asDecoder();
const prompts = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15], [16], [17, 18, 19, 20], [21, 22]];
const sampling = { temperature: 0.8, topK: 20, topP: 0.95 };

describe("generate - on the ONNX inference graph", () => {
  let onnx: OnnxDecoder;
  beforeAll(async () => {
    onnx = await OnnxDecoder.create(config, weights);
  });
  afterAll(async () => {
    await onnx.release();
  });

  it("samples the same tokens as the float64 reference for a fixed seed, with log-probs within 1e-4", async () => {
    const opts = { maxNewTokens: 10, sampling, seed: 21, stopTokenIds: [] };
    const ours = await generate(onnx, prompts, opts);
    const ref = await generate(reference, prompts, opts);
    expect(ours.tokens).toEqual(ref.tokens);
    ours.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - ref.logprobs[i][t])).toBeLessThan(1e-4)));
  });

  it("is reproducible with a seed and compacts finished rows without changing any sequence", async () => {
    const free = await generate(onnx, prompts, { maxNewTokens: 12, sampling, seed: 5, stopTokenIds: [] });
    expect(await generate(onnx, prompts, { maxNewTokens: 12, sampling, seed: 5, stopTokenIds: [] })).toEqual(free);
    const stops = new Set(free.tokens.slice(0, 4).map((t) => t[0]));
    const sizes: number[] = [];
    const counting = { config, openCache: onnx.openCache.bind(onnx), step: (input: Parameters<OnnxDecoder["step"]>[0]) => (sizes.push(input.inputIds.shape[0]), onnx.step(input)) };
    const res = await generate(counting, prompts, { maxNewTokens: 12, sampling, seed: 5, stopTokenIds: [...stops] });
    free.tokens.forEach((seq, i) => {
      const at = seq.findIndex((t) => stops.has(t));
      const want = at >= 0 ? seq.slice(0, at + 1) : seq;
      expect(res.tokens[i], `sequence ${i}`).toEqual(want);
      res.logprobs[i].forEach((lp, t) => expect(lp).toBeCloseTo(free.logprobs[i][t], 5));
    });
    // four of six rows stop at their first token, so the batch is compacted before the first decode step
    expect(res.truncated.filter((t) => !t).length).toBeGreaterThanOrEqual(4);
    expect(sizes[1]).toBeLessThanOrEqual(prompts.length / 2);
  });

  it("prefills each distinct prompt once (a group's G samples share it) and samples exactly what prefilling every row does", async () => {
    // Three groups of G = 4, interleaved with a lone prompt, as a rollout actor's batch.
    const groups = [prompts[0], prompts[0], prompts[0], prompts[0], prompts[1], prompts[2], prompts[2], prompts[2], prompts[2], prompts[1]];
    const widths: number[] = [];
    const counting = { config, openCache: onnx.openCache.bind(onnx), step: (input: Parameters<OnnxDecoder["step"]>[0]) => (widths.push(input.inputIds.shape[0]), onnx.step(input)) };
    const opts = { maxNewTokens: 10, sampling, seed: 9, stopTokenIds: [] };
    const shared = await generate(counting, groups, opts);
    expect(widths[0]).toBe(3); // the prefill ran over the 3 distinct prompts...
    expect(widths[1]).toBe(groups.length); // ...and decoding over all 10 rows
    const every = await generate(onnx, groups, { ...opts, sharedPrefill: false });
    expect(shared).toEqual(every); // the same tokens and the same log-probs, bit for bit
    // The rows of one group drew different samples (their own rng streams), from the same first distribution.
    expect(new Set(shared.tokens.slice(0, 4).map((t) => t.join(","))).size).toBeGreaterThan(1);
    // Greedy: every row of a group is the same sequence.
    const greedy = await generate(onnx, groups, { maxNewTokens: 6, stopTokenIds: [] });
    expect(greedy).toEqual(await generate(onnx, groups, { maxNewTokens: 6, stopTokenIds: [], sharedPrefill: false }));
    expect(greedy.tokens[1]).toEqual(greedy.tokens[0]);
  });
});
