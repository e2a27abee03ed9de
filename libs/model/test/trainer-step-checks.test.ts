// The trainer's per-micro-batch outputs: each micro-batch's metrics kept apart (a sum of micro-batch means
// is not a mean), and a NaN loss named by its micro-batch with the parameters left unchanged.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { ops } from "../src/graph/ops.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch, splitBatch, type TokenBatch } from "../src/llama/batch.js";
import type { LossBuilder } from "../src/llama/graphs.js";
import { NonFiniteStepError, Trainer } from "../src/train/trainer.js";

const tiny: LlamaConfig = {
  modelType: "llama", vocabSize: 48, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16,
  rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: true, attentionBias: false, qkNorm: false,
  bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};

/** Sum of log-probs times a per-row scale (a NaN scale poisons its rows); metric: the mean log-prob of the micro-batch. */
const loss: LossBuilder = (ctx) => {
  const scale = ctx.input("scale", "float32", ["B"]);
  const lp = ops.mul(ctx.logprobs, ctx.mask);
  const loss = ops.neg(ops.sumAll(ops.mul(lp, ops.unsqueeze(scale, [1]))));
  return { loss, metrics: { mean_logp: ops.div(ops.sumAll(lp), ops.sumAll(ctx.mask)) } };
};

function batch(scales: number[]): TokenBatch {
  const b = makeTokenBatch(scales.map((_, i) => [2 + i, 3 + i, 4 + i, 5]));
  return { ...b, extras: { scale: { dtype: "float32", shape: [scales.length], data: Float32Array.from(scales) } } };
}

describe("trainer - per micro-batch", () => {
  it("microBatchMetrics holds each micro-batch's own metrics, in order", async () => {
    const t = await Trainer.create(tiny, initModel(tiny, 2), loss, { schedule: { kind: "constant", lr: 1e-3, warmupSteps: 0 } });
    try {
      const parts = splitBatch(batch([1, 1, 1, 1]), 2);
      const r = await t.train(parts);
      expect(r.microBatchMetrics).toHaveLength(2);
      expect(r.metrics.mean_logp).toBeCloseTo(r.microBatchMetrics[0].mean_logp + r.microBatchMetrics[1].mean_logp, 5); // sums, as documented
    } finally {
      await t.release();
    }
  });

  it("a NaN loss names its micro-batch; the parameters are left unchanged", async () => {
    const t = await Trainer.create(tiny, initModel(tiny, 2), loss, { schedule: { kind: "constant", lr: 1e-3, warmupSteps: 0 } });
    try {
      const before = Float32Array.from(t.weights.get("model.embed_tokens.weight")!.data);
      const err = await t.train(splitBatch(batch([1, 1, Number.NaN, 1]), 2)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteStepError);
      expect(err).toMatchObject({ quantity: "loss", microBatch: 1 });
      expect((err as Error).message).toBe("train: loss is NaN in micro-batch 1; parameters left unchanged");
      expect(Array.from(t.weights.get("model.embed_tokens.weight")!.data)).toEqual(Array.from(before));
      expect(t.step).toBe(0);
    } finally {
      await t.release();
    }
  });
});
