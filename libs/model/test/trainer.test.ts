// The training step: schedule, clipping, AdamW against an independent float64 implementation, micro-batch
// accumulation, resuming from optimizer state, and a 2-layer model overfitting a tiny dataset.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { ops } from "../src/graph/ops.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch, type TokenBatch } from "../src/llama/batch.js";
import type { LossBuilder } from "../src/llama/graphs.js";
import type { Weights } from "../src/tensor.js";
import { ADAMW_DEFAULTS, adamwStep, zeroState } from "../src/train/adamw.js";
import { adamwGroups, OnnxAdamW } from "../src/train/adamw-graph.js";
import { clipScale, globalNorm } from "../src/train/clip.js";
import { learningRate, ScheduleError, checkSchedule } from "../src/train/schedule.js";
import { Trainer } from "../src/train/trainer.js";
import { rng } from "./support/fd.js";

describe("schedule", () => {
  it("schedule - linear warmup then constant", () => {
    const s = { kind: "constant" as const, lr: 1e-3, warmupSteps: 4 };
    expect([0, 1, 2, 3, 4, 100].map((t) => learningRate(s, t))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]);
  });
  it("schedule - cosine from the peak to the floor, held after totalSteps", () => {
    const s = { kind: "cosine" as const, lr: 1, warmupSteps: 2, totalSteps: 12, minLrRatio: 0.1 };
    expect(learningRate(s, 1)).toBe(1);
    expect(learningRate(s, 2)).toBe(1);
    expect(learningRate(s, 7)).toBeCloseTo(0.55, 12);
    expect(learningRate(s, 12)).toBeCloseTo(0.1, 12);
    expect(learningRate(s, 50)).toBeCloseTo(0.1, 12);
  });
  it("schedule - bad configs name the field", () => {
    expect(() => checkSchedule({ kind: "cosine", lr: 1, warmupSteps: 5, totalSteps: 5 })).toThrow(/totalSteps must be an integer > warmupSteps/);
    expect(() => checkSchedule({ kind: "constant", lr: -1, warmupSteps: 0 })).toThrow(ScheduleError);
    expect(() => checkSchedule({ kind: "linear" as never, lr: 1, warmupSteps: 0 })).toThrow(/kind must be 'constant' or 'cosine'/);
  });
});

describe("clipping", () => {
  it("clip - global norm over all tensors and torch's clip coefficient", () => {
    expect(globalNorm([Float32Array.of(3, 4), Float32Array.of(12)])).toBe(13);
    expect(clipScale(13, 1)).toBeCloseTo(1 / (13 + 1e-6), 15);
    expect(clipScale(0.5, 1)).toBe(1);
    expect(clipScale(1e9, null)).toBe(1);
  });
});

/** AdamW written independently in float64 from the PyTorch docs' algorithm. */
function referenceAdamW(p: number[], grads: number[][], lr: number, c: typeof ADAMW_DEFAULTS, decay: boolean): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  let x = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    x = x.map((xi, i) => {
      const d = decay ? xi - lr * c.weightDecay * xi : xi;
      m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
      v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] ** 2;
      const mh = m[i] / (1 - c.beta1 ** t);
      const vh = v[i] / (1 - c.beta2 ** t);
      return d - (lr * mh) / (Math.sqrt(vh) + c.eps);
    });
  });
  return x;
}

describe("AdamW", () => {
  const c = { ...ADAMW_DEFAULTS, weightDecay: 0.1 };
  const w0 = () => new Map([
    ["mat", { dtype: "float32" as const, shape: [2, 2], data: Float32Array.of(0.5, -0.25, 1.5, 2) }],
    ["norm", { dtype: "float32" as const, shape: [2], data: Float32Array.of(1, 0.75) }],
  ]) as Weights;
  const gs = [[0.1, -0.2, 0.3, 0.05, 0.4, -0.1], [0.2, 0.1, -0.3, 0.0, -0.2, 0.3], [-0.05, 0.3, 0.1, 0.2, 0.1, 0.1]];
  const split = (g: number[]) => new Map([["mat", Float32Array.from(g.slice(0, 4))], ["norm", Float32Array.from(g.slice(4))]]);

  it("AdamW - three JS updates match float64 AdamW; norms (rank 1) do not decay", () => {
    const w = w0();
    const s = zeroState(w);
    for (const g of gs) adamwStep(w, split(g), s, c, 0.01);
    const mat = referenceAdamW([0.5, -0.25, 1.5, 2], gs.map((g) => g.slice(0, 4).map(Math.fround)), 0.01, c, true);
    const norm = referenceAdamW([1, 0.75], gs.map((g) => g.slice(4).map(Math.fround)), 0.01, c, false);
    expect(s.step).toBe(3);
    [...w.get("mat")!.data].forEach((x, i) => expect(x).toBeCloseTo(mat[i], 6));
    [...w.get("norm")!.data].forEach((x, i) => expect(x).toBeCloseTo(norm[i], 6));
  });

  it("AdamW - the ONNX-graph update equals the JS loop", async () => {
    const [a, b] = [w0(), w0()];
    const [sa, sb] = [zeroState(a), zeroState(b)];
    const onnx = await OnnxAdamW.create(b, c);
    for (const g of gs) {
      adamwStep(a, split(g), sa, c, 0.01, 0.5);
      await onnx.step(b, split(g), sb, 0.01, 0.5);
    }
    await onnx.release();
    for (const k of ["mat", "norm"]) [...b.get(k)!.data].forEach((x, i) => expect(x).toBeCloseTo(a.get(k)!.data[i], 6));
    expect(sb.step).toBe(3);
  });

  it("AdamW - a group of parameters at a time (no second copy of the state) gives the one-graph update bit for bit", async () => {
    expect(adamwGroups(new Map([["a", { shape: [4, 4] }], ["b", { shape: [3] }], ["c", { shape: [20] }], ["d", { shape: [2] }]]), 19)).toEqual([["a", "b"], ["c"], ["d"]]);
    const [a, b] = [w0(), w0()];
    const [sa, sb] = [zeroState(a), zeroState(b)];
    const whole = await OnnxAdamW.create(a, c);
    const grouped = await OnnxAdamW.create(b, c, { groupFloats: 1 });
    expect([whole.groups, grouped.groups]).toEqual([1, 2]);
    for (const g of gs) {
      await whole.step(a, split(g), sa, 0.01, 0.5);
      await grouped.step(b, split(g), sb, 0.01, 0.5);
    }
    for (const k of ["mat", "norm"]) {
      expect(b.get(k)!.data).toEqual(a.get(k)!.data);
      expect(sb.m.get(k)!.data).toEqual(sa.m.get(k)!.data);
      expect(sb.v.get(k)!.data).toEqual(sa.v.get(k)!.data);
    }
    await whole.release();
    await grouped.release();
  });
});

const tiny: LlamaConfig = {
  modelType: "llama", vocabSize: 48, hiddenSize: 48, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 12,
  rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: false, attentionBias: false, qkNorm: false,
  bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};

/** Token-mean negative log-likelihood; `count` is the whole batch's number of predicted tokens. */
const nll: LossBuilder = (ctx) => {
  const lm = ctx.input("loss_mask", "float32", ["B", "T"]);
  const count = ctx.input("count", "float32", []);
  const loss = ops.neg(ops.div(ops.sumAll(ops.mul(ctx.logprobs, lm)), count));
  return { loss, metrics: { entropy: ops.div(ops.sumAll(ops.mul(ctx.entropy(), lm)), count) } };
};

function withLossInputs(b: TokenBatch, count: number): TokenBatch {
  const [B, T] = b.inputIds.shape;
  const lm = Float32Array.from(b.targets.data, (_, i) => (b.attentionMask.data[i] && i % T < T - 1 && b.attentionMask.data[i + 1] ? 1 : 0));
  return { ...b, extras: { loss_mask: { dtype: "float32", shape: [B, T], data: lm }, count: { dtype: "float32", shape: [], data: Float32Array.of(count) } } };
}

const data = (() => {
  const r = rng(17);
  return Array.from({ length: 4 }, (_, i) => Array.from({ length: 12 + i }, () => 2 + Math.floor(r() * 46)));
})();
const predicted = data.reduce((n, s) => n + s.length - 1, 0);

describe("trainer", () => {
  it("trainer - a 2-layer model overfits a tiny dataset (loss falls by 10x)", async () => {
    const t = await Trainer.create(tiny, initModel(tiny, 1), nll, { schedule: { kind: "constant", lr: 1e-2, warmupSteps: 5 }, adamw: { weightDecay: 0 } });
    const batch = withLossInputs(makeTokenBatch(data), predicted);
    const first = await t.train([batch]);
    let last = first;
    for (let i = 0; i < 150 && last.loss > first.loss / 10; i++) last = await t.train([batch]);
    console.log(`overfit: loss ${first.loss.toFixed(3)} -> ${last.loss.toFixed(4)} in ${last.step} steps`);
    expect(first.loss).toBeGreaterThan(3); // ~ln(48) at init
    expect(last.loss).toBeLessThan(first.loss / 10);
    expect(last.tokens).toBe(data.flat().length);
    expect(last.metrics.entropy).toBeLessThan(first.metrics.entropy);
    await t.release();
  });

  it("trainer - two micro-batches give the same step as one batch", async () => {
    const w = initModel(tiny, 2, { initializerRange: 0.1 });
    // eps = 1 makes the first Adam update ~ lr * 0.1 * g, linear in the gradient; with the usual eps it is
    // ~ lr * sign(g), which magnifies float32 summation-order noise in near-zero gradients to the size of lr.
    const opts = { schedule: { kind: "constant" as const, lr: 1e-3, warmupSteps: 0 }, maxGradNorm: 0.5, adamw: { eps: 1 } };
    const [one, two] = [await Trainer.create(tiny, w, nll, opts), await Trainer.create(tiny, w, nll, opts)];
    const a = await one.train([withLossInputs(makeTokenBatch(data), predicted)]);
    const b = await two.train([withLossInputs(makeTokenBatch(data.slice(0, 2)), predicted), withLossInputs(makeTokenBatch(data.slice(2)), predicted)]);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(b.gradNorm).toBeCloseTo(a.gradNorm, 4);
    expect(a.clipScale).toBeLessThan(1); // the clipping path ran
    let err = 0;
    for (const [k, t] of one.weights) t.data.forEach((x, i) => (err = Math.max(err, Math.abs(x - two.weights.get(k)!.data[i]))));
    let moved = 0;
    for (const [k, t] of one.weights) t.data.forEach((x, i) => (moved = Math.max(moved, Math.abs(x - w.get(k)!.data[i]))));
    expect(moved).toBeGreaterThan(1e-5); // the step did change the weights
    // The two steps agree to 0.1% of the update: what is left is the rounding of the new weights (1.5e-8 is one
    // float32 ulp of a weight in [0.125, 0.25); a GEMM over half the rows may round its last bit otherwise).
    expect(err).toBeLessThan(1e-3 * moved);
    await one.release();
    await two.release();
  });

  it("trainer - resuming from state() continues bit-for-bit; the onnx optimizer agrees", async () => {
    const w = initModel(tiny, 3, { initializerRange: 0.1 });
    const opts = { schedule: { kind: "cosine" as const, lr: 3e-3, warmupSteps: 1, totalSteps: 10 } };
    const batch = withLossInputs(makeTokenBatch(data), predicted);
    const a = await Trainer.create(tiny, w, nll, opts);
    for (let i = 0; i < 3; i++) await a.train([batch]);
    const b = await Trainer.create(tiny, a.weights, nll, { ...opts, state: await a.state() });
    const c = await Trainer.create(tiny, a.weights, nll, { ...opts, state: await a.state(), optimizer: "onnx" });
    const [ra, rb, rc] = [await a.train([batch]), await b.train([batch]), await c.train([batch])];
    expect(rb).toMatchObject({ step: 4, lr: ra.lr, loss: ra.loss });
    for (const [k, t] of a.weights) expect(b.weights.get(k)!.data).toEqual(t.data);
    expect(rc.step).toBe(4);
    let err = 0;
    for (const [k, t] of a.weights) t.data.forEach((x, i) => (err = Math.max(err, Math.abs(x - c.weights.get(k)!.data[i]))));
    expect(err).toBeLessThan(1e-6);
    for (const t of [a, b, c]) await t.release();
  });

  it("trainer - with state on the device (the webgpu path, here on cpu): same steps as on the host, moments copied back", async () => {
    const w = initModel(tiny, 3, { initializerRange: 0.1 });
    const opts = { schedule: { kind: "cosine" as const, lr: 3e-3, warmupSteps: 1, totalSteps: 10 }, maxGradNorm: 0.05 };
    // Two micro-batches: the device path sums their gradients on the device.
    const halves = [withLossInputs(makeTokenBatch(data.slice(0, 2)), predicted), withLossInputs(makeTokenBatch(data.slice(2)), predicted)];
    const host = await Trainer.create(tiny, w, nll, { ...opts, optimizer: "onnx" });
    // AdamW a few tensors at a time on the device (each group's old state released before the next is made).
    const dev = await Trainer.create(tiny, w, nll, { ...opts, keepOnDevice: true, adamwGroupFloats: 3000 });
    expect(dev.keepsStateOnDevice).toBe(true);
    expect(host.keepsStateOnDevice).toBe(false);
    for (let i = 0; i < 3; i++) {
      const [rh, rd] = [await host.train(halves), await dev.train(halves)];
      expect(rd.step).toBe(rh.step);
      expect(rd.loss).toBeCloseTo(rh.loss, 5);
      expect(rd.gradNorm).toBeCloseTo(rh.gradNorm, 5);
      expect(rd.clipScale).toBeLessThan(1); // maxGradNorm 0.05 clips: the scale reaches the device's AdamW
      expect(rd.clipScale).toBeCloseTo(rh.clipScale, 5);
    }
    let err = 0;
    for (const [k, t] of host.weights) t.data.forEach((x, i) => (err = Math.max(err, Math.abs(x - dev.weights.get(k)!.data[i]))));
    expect(err).toBeLessThan(1e-6);
    const [sh, sd] = [await host.state(), await dev.state()];
    expect(sd.step).toBe(3);
    let merr = 0;
    for (const [k, t] of sh.v) t.data.forEach((x, i) => (merr = Math.max(merr, Math.abs(x - sd.v.get(k)!.data[i]))));
    for (const [k, t] of sh.m) t.data.forEach((x, i) => (merr = Math.max(merr, Math.abs(x - sd.m.get(k)!.data[i]))));
    expect(merr).toBeLessThan(1e-6);
    expect([...sd.m.values()].some((t) => t.data.some((x) => x !== 0))).toBe(true);
    await host.release();
    await dev.release();
    await expect(Trainer.create(tiny, w, nll, { ...opts, keepOnDevice: true, optimizer: "js" })).rejects.toThrow(/keepOnDevice runs AdamW on the device: it needs optimizer 'onnx'/);
  });

  it("trainer - options are checked by name", async () => {
    const w = initModel(tiny, 4);
    await expect(Trainer.create(tiny, w, nll, { schedule: { kind: "constant", lr: 1, warmupSteps: 0 }, lr: 3 } as never)).rejects.toThrow(
      /unknown trainer option\(s\) lr; valid: schedule, adamw/,
    );
    await expect(Trainer.create(tiny, w, nll, { schedule: { kind: "constant", lr: 1, warmupSteps: 0 }, adamw: { beta1: 1 } })).rejects.toThrow(/adamw.beta1 must be in \[0, 1\)/);
    await expect(Trainer.create(tiny, w, nll, { schedule: { kind: "constant", lr: 1, warmupSteps: 0 }, provider: "cuda" })).rejects.toThrow(/execution provider 'cuda' is unavailable/);
    const bad = zeroState(w);
    bad.m.delete("model.norm.weight");
    await expect(Trainer.create(tiny, w, nll, { schedule: { kind: "constant", lr: 1, warmupSteps: 0 }, state: bad })).rejects.toThrow(/optimizer state lacks m for 'model.norm.weight'/);
  });
});
