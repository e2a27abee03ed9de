// Log-probs at the sampling temperature: what the rollout records (log softmax(logits / T) over the full
// vocabulary) and what the learner's graphs compute for the same tokens and weights, with each row's
// temperature fed as batch.temperature. Without it the learner saw T = 1 (the bug this guards against).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch, type TokenBatch } from "../src/llama/batch.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { ForwardSession, GradientSession } from "../src/runtime/train-session.js";
import { ops } from "../src/index.js";

const config: LlamaConfig = {
  modelType: "qwen2", vocabSize: 48, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 128, tieWordEmbeddings: true,
  attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const weights = initModel(config, 11, { initializerRange: 0.3 });
const prompts = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15]];

interface Rows {
  batch: TokenBatch;
  /** [row][i] the rollout's log-prob of response token i, and where it sits in the batch's [B, T]. */
  rollout: number[][];
  positions: number[][];
}

/** Rows prompt ++ response, right-padded, for prompts sampled at each of `temperatures`. */
async function sampledRows(onnx: OnnxDecoder, temperatures: number[]): Promise<Rows> {
  const seqs: number[][] = [];
  const rollout: number[][] = [];
  const positions: number[][] = [];
  const rowTemps: number[] = [];
  for (const [k, temperature] of temperatures.entries()) {
    const r = await generate(onnx, prompts, { maxNewTokens: 8, sampling: { temperature, topK: 0, topP: 1 }, seed: 3 + k, stopTokenIds: [] });
    prompts.forEach((p, i) => {
      seqs.push([...p, ...r.tokens[i]]);
      rollout.push(r.logprobs[i]);
      positions.push(r.tokens[i].map((_, j) => p.length - 1 + j)); // token j of the response is predicted at P + j - 1
      rowTemps.push(temperature);
    });
  }
  const batch = makeTokenBatch(seqs, { padId: 0 });
  batch.temperature = rowTemps;
  return { batch, rollout, positions };
}

describe("temperature - rollout vs learner log-probs", () => {
  let onnx: OnnxDecoder;
  let forward: ForwardSession;
  beforeAll(async () => {
    onnx = await OnnxDecoder.create(config, weights);
    forward = await ForwardSession.create(config);
  });
  afterAll(async () => {
    await onnx.release();
    await forward.release();
  });

  it("the forward graph's log-probs equal the rollout's at T = 0.7 (and at T = 1.3 in the same batch) to 1e-4", async () => {
    const rows = await sampledRows(onnx, [0.7, 1.3]);
    const T = rows.batch.inputIds.shape[1];
    const lp = await forward.logprobs(weights, rows.batch);
    let worst = 0;
    let worstAtT1 = 0;
    const atT1 = await forward.logprobs(weights, { ...rows.batch, temperature: undefined });
    rows.positions.forEach((ps, b) => ps.forEach((pos, i) => {
      worst = Math.max(worst, Math.abs(lp.data[b * T + pos] - rows.rollout[b][i]));
      worstAtT1 = Math.max(worstAtT1, Math.abs(atT1.data[b * T + pos] - rows.rollout[b][i]));
    }));
    expect(worst).toBeLessThan(1e-4);
    expect(worstAtT1).toBeGreaterThan(0.1); // the learner at T = 1 is far off: what the temperature input fixes
    // Row-split forward passes carry each part's temperatures.
    const split = await forward.logprobs(weights, rows.batch, 2);
    expect(Array.from(split.data)).toEqual(Array.from(lp.data));
  });

  it("the training graph's log-probs and entropy are at each row's temperature", async () => {
    const rows = await sampledRows(onnx, [0.7]);
    const [B, T] = rows.batch.inputIds.shape;
    const mask = new Float32Array(B * T);
    rows.positions.forEach((ps, b) => ps.forEach((pos) => (mask[b * T + pos] = 1)));
    const session = await GradientSession.create(config, (ctx) => {
      const m = ctx.input("response_mask", "float32", [ctx.dims.B, ctx.dims.T]);
      const lpSum = ops.sumAll(ops.mul(ctx.logprobs, m));
      return { loss: lpSum, metrics: { lp_sum: lpSum, entropy_sum: ops.sumAll(ops.mul(ctx.entropy(), m)) } };
    });
    try {
      rows.batch.extras = { response_mask: { dtype: "float32", shape: [B, T], data: mask } };
      const r = await session.run(weights, rows.batch);
      const want = rows.rollout.flat().reduce((a, b) => a + b, 0);
      expect(Math.abs(Number(r.metrics.lp_sum.data[0]) - want)).toBeLessThan(1e-4 * rows.rollout.flat().length);
      // Entropy of softmax(logits / 0.7) from the raw logits, in float64.
      const logits = await forward.logits(weights, rows.batch);
      const V = config.vocabSize;
      let h = 0;
      rows.positions.forEach((ps, b) => ps.forEach((pos) => {
        const row = Array.from(logits.data.subarray((b * T + pos) * V, (b * T + pos + 1) * V), (x) => x / 0.7);
        const m = Math.max(...row);
        const z = row.reduce((s, x) => s + Math.exp(x - m), 0);
        for (const x of row) {
          const logp = x - m - Math.log(z);
          h -= Math.exp(logp) * logp;
        }
      }));
      expect(Number(r.metrics.entropy_sum.data[0])).toBeCloseTo(h, 3);
    } finally {
      await session.release();
    }
  });

  it("rejects a temperature list of the wrong length or a negative temperature, naming it", async () => {
    const batch = makeTokenBatch([[1, 2, 3]], { padId: 0 });
    await expect(forward.logprobs(weights, { ...batch, temperature: [0.7, 0.7] })).rejects.toThrow("batch.temperature has 2 entries, the batch has 1 rows");
    await expect(forward.logprobs(weights, { ...batch, temperature: [-1] })).rejects.toThrow("batch.temperature[0] is -1");
  });
});
