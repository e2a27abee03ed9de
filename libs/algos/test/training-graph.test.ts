// Integration with libs/model's real training graph: a tiny random Llama in float64, the loss builder of a
// preset, onnxruntime. The loss and metrics must equal the reference evaluated on the model's own log-probs,
// and the parameter gradients must match a directional finite difference of that loss.
import { GradientSession, initModel, type LlamaConfig, makeTokenBatch, type Tensor, type TokenBatch } from "@lspo/model";
import { describe, expect, it } from "vitest";
import { type AlgorithmParams, aggregationWeights, presetSpec, referenceLoss, trainingLossBuilder } from "../src/index.js";
import { rng } from "./helpers.js";

const tiny: LlamaConfig = {
  modelType: "llama", vocabSize: 24, hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, numKvHeads: 1,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 32, tieWordEmbeddings: false,
  attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const weights = new Map([...initModel(tiny, 3, { initializerRange: 0.4 })].map(([k, t]) => [k, { ...t, dtype: "float64" as const, data: Float64Array.from(t.data) }]));

// Prompt of 2 tokens, then responses of 2, 3, 1, 3 tokens; right padding to T = 5.
const sequences = [[5, 6, 7, 8], [9, 10, 11, 12, 13], [14, 15, 16], [17, 18, 19, 20, 21]];
const PROMPT = 2;
const batch = makeTokenBatch(sequences);
const [B, T] = batch.inputIds.shape;
// Response token k (k >= PROMPT) is predicted at position k - 1.
const lossMask = sequences.map((s) => Array.from({ length: T }, (_, t) => (t + 1 >= PROMPT && t + 1 < s.length ? 1 : 0)));
const f64 = (shape: number[], data: number[]): Tensor<"float64"> => ({ dtype: "float64", shape, data: Float64Array.from(data) });

async function session(p: AlgorithmParams) {
  const build = trainingLossBuilder(p);
  // Also expose the model's log-probs and entropy, to evaluate the reference on exactly what the graph saw.
  return GradientSession.create(tiny, (ctx) => {
    const r = build(ctx);
    return { loss: r.loss, metrics: { ...r.metrics, logprobs: ctx.logprobs, H: ctx.entropy() } };
  }, { dtype: "float64", threads: 1 });
}

function extras(p: AlgorithmParams, logpOld: number[][], logpRef: number[][], adv: number[]): TokenBatch["extras"] {
  return {
    logp_old: f64([B, T], logpOld.flat()),
    ...(p.kl_coef > 0 ? { logp_ref: f64([B, T], logpRef.flat()) } : {}),
    loss_mask: f64([B, T], lossMask.flat()),
    advantages: f64([B], adv),
    loss_weight: f64([B, T], aggregationWeights(p, lossMask).flat()),
  };
}

const PATTERN = [[1, 0.2, 0.2], [-1, -0.2, -1], [0.1, 0.1, 0.1], [2.4, -0.3, 0.1]];
const ragged = (rows: number[][]) => rows.map((row, b) => row.filter((_, t) => lossMask[b][t] === 1));

for (const [name, overrides, spread] of [
  ["grpo", { entropy_coef: 0.01 }, 0.5],
  ["gspo", {}, 1e-3],
  ["dapo", { overlong_shaping: false }, 0.5],
] as const) {
  describe(`training graph - ${name}`, () => {
    it("loss and metrics equal the reference on the model's log-probs; parameter gradients match finite differences", async () => {
      const p = presetSpec(name, overrides).params;
      const s = await session(p);
      const r = rng(17);
      const zeros = lossMask.map((row) => row.map(() => 0));
      const adv = [1.2, -0.7, 0.4, -1.5];
      // First pass: the model's log-probs. Then behaviour / reference log-probs near them (0 off the mask).
      const first = await s.run(weights, { ...batch, extras: extras(p, zeros, zeros, adv) });
      const lp = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Number(first.metrics.logprobs.data[b * T + t])));
      const H = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => Number(first.metrics.H.data[b * T + t])));
      // log ratio of response token j in row b: spread * PATTERN[b][j], chosen so that row 0 (A > 0) is clipped
      // high, row 1 (A < 0) clipped low, and for PPO row 3's first token (A < 0, ratio e^1.2 > 3) hits the dual clip.
      const logpOld = lp.map((row, b) => row.map((v, t) => (lossMask[b][t] ? v - spread * PATTERN[b][t + 1 - PROMPT] : 0)));
      const logpRef = lp.map((row, b) => row.map((v, t) => (lossMask[b][t] ? v + 0.3 * (2 * r() - 1) : 0)));
      const feed = { ...batch, extras: extras(p, logpOld, logpRef, adv) };
      const out = await s.run(weights, feed);

      const want = referenceLoss(p, {
        logp: ragged(lp), logpOld: ragged(logpOld), logpRef: ragged(logpRef), entropy: ragged(H),
        mask: ragged(lossMask).map((row) => row.map(() => 1)), advantages: adv,
      });
      expect(out.loss).toBeCloseTo(want.loss, 12);
      expect(want.loss).not.toBe(0);
      // The zero-gradient branches run through the real graph too.
      expect(want.metrics.clip_frac_low).toBeGreaterThan(0);
      expect(want.metrics.clip_frac_high).toBeGreaterThan(0);
      if (p.dual_clip !== null) expect(want.metrics.clip_frac_dual).toBeGreaterThan(0);
      for (const k of ["clip_frac_low", "clip_frac_high", "clip_frac_dual", "approx_kl", "mean_abs_advantage", "tokens", "responses"] as const) {
        expect(Number(out.metrics[k].data[0]), k).toBeCloseTo(want.metrics[k] as number, 12);
      }

      // Directional derivative along a random direction v over every parameter.
      const dir = new Map([...weights].map(([k, t]) => [k, Float64Array.from(t.data, () => 2 * r() - 1)]));
      let analytic = 0;
      for (const [k, g] of out.grads) g.data.forEach((v, i) => (analytic += Number(v) * dir.get(k)![i]));
      const h = 1e-6;
      const shifted = (sign: number) =>
        new Map([...weights].map(([k, t]) => [k, { ...t, data: t.data.map((v, i) => v + sign * h * dir.get(k)![i]) }]));
      const lossAt = async (sign: number) => (await s.run(shifted(sign), feed)).loss;
      const fd = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
      expect(Math.abs(fd - analytic), `fd ${fd} vs analytic ${analytic}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(analytic)));
      expect(Math.abs(analytic)).toBeGreaterThan(1e-4);
      await s.release();
    });
  });
}
