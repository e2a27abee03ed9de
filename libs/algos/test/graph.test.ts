// The graph form (libs/model ops + autodiff, run by onnxruntime) against hand-worked values and against the
// float64 reference, loss, d loss/d logp (logp fed as a graph input and differentiated), d loss/d entropy
// and metrics, for every preset and every policy loss x aggregation x KL estimator x dual clip.
import { afterAll, describe, expect, it } from "vitest";
import {
  type AlgorithmParams,
  aggregations,
  type LossInput,
  presetSpec,
  presets,
  referenceLoss,
} from "../src/index.js";
import { GraphLossRunner } from "./graph-support.js";
import { closeRows, inputFromLogRatios, rng } from "./helpers.js";

const runners: GraphLossRunner[] = [];
afterAll(async () => {
  for (const r of runners) await r.release();
});

async function runner(p: AlgorithmParams, o: Parameters<typeof GraphLossRunner.create>[1]) {
  const r = await GraphLossRunner.create(p, o);
  runners.push(r);
  return r;
}

describe("graph - hand-worked", () => {
  it("PPO-clip batch of ppo-clip.test.ts: token-mean 9.02/7 and gradients dl/7", async () => {
    // ratios [1, 1.5, 0.5] with A = +1 and [0.5, 1.1, 4, 1] with A = -2; clip 0.2/0.28, dual clip 3.
    // per-token l: [-1, -1.28, -0.5], [1.6, 2.2, 6, 2]; dl/dlogp: [-1, 0, -0.5], [0, 2.2, 0, 2] (see ppo-clip.test.ts).
    const x = inputFromLogRatios([[0, Math.log(1.5), Math.log(0.5)], [Math.log(0.5), Math.log(1.1), Math.log(4), 0]], [1, -2]);
    const p = presetSpec("dapo", { overlong_shaping: false }).params;
    const r = await (await runner(p, { ref: false, entropy: false })).run(x);
    expect(r.loss).toBeCloseTo(9.02 / 7, 12);
    closeRows(r.gradLogp, [[-1 / 7, 0, -0.5 / 7], [0, 2.2 / 7, 0, 2 / 7]]);
    expect(r.metrics.clip_frac_low).toBeCloseTo(1 / 7, 15);
    expect(r.metrics.clip_frac_high).toBeCloseTo(1 / 7, 15);
    expect(r.metrics.clip_frac_dual).toBeCloseTo(1 / 7, 15);
    expect(r.metrics.tokens).toBe(7);
    expect(r.metrics.mean_abs_advantage).toBe(1.5);
  });

  it("GSPO batch of gspo.test.ts: mean of sequence losses, gradient (1/4)(-A s_i)/|o_i| spread over tokens", async () => {
    // s = [e^2e-4 (inside), e^1e-3 (clipped high), e^-1e-3 (clipped low), e^-1e-4 (inside)], A = [1, 1, -1, -1].
    const x = inputFromLogRatios([[1e-4, 3e-4], [1e-3, 1e-3, 1e-3], [-1e-3], [0, -2e-4]], [1, 1, -1, -1]);
    const r = await (await runner(presetSpec("gspo").params, { ref: false, entropy: false })).run(x);
    expect(r.loss).toBeCloseTo((-Math.exp(2e-4) - 1.0004 + 0.9997 + Math.exp(-1e-4)) / 4, 14);
    closeRows(r.gradLogp, [
      [-Math.exp(2e-4) / 8, -Math.exp(2e-4) / 8],
      [0, 0, 0],
      [0],
      [Math.exp(-1e-4) / 8, Math.exp(-1e-4) / 8],
    ], 14);
    expect(r.metrics.clip_frac_high).toBeCloseTo(3 / 8, 15);
    expect(r.metrics.clip_frac_low).toBeCloseTo(1 / 8, 15);
  });

  it("GRPO k3 KL and entropy bonus on one token: l = -0.5 + 0.04 k3 - 0.01 H", async () => {
    // A = 0.5, r = 1, logp -1, ref -1.5: k3 = e^-0.5 - 0.5 = 0.10653065971263342, dk3 = 1 - e^-0.5; H = 2.
    const p = { ...presetSpec("grpo").params, entropy_coef: 0.01 };
    const x: LossInput = { logp: [[-1]], logpOld: [[-1]], logpRef: [[-1.5]], entropy: [[2]], mask: [[1]], advantages: [0.5] };
    const r = await (await runner(p, { ref: true, entropy: true })).run(x);
    expect(r.loss).toBeCloseTo(-0.5 + 0.04 * 0.10653065971263342 - 0.02, 15);
    expect(r.gradLogp[0][0]).toBeCloseTo(-0.5 + 0.04 * (1 - Math.exp(-0.5)), 15);
    expect(r.gradEntropy![0][0]).toBeCloseTo(-0.01, 15);
    expect(r.metrics.ref_kl).toBeCloseTo(0.10653065971263342, 15);
    expect(r.metrics.entropy).toBe(2);
  });
});

function randomInput(seed: number, spread: number): LossInput {
  const r = rng(seed);
  const n = 2 + Math.floor(r() * 4);
  const lens = Array.from({ length: n }, () => 1 + Math.floor(r() * 6));
  const logpOld = lens.map((t) => Array.from({ length: t }, () => -0.1 - 3 * r()));
  const logp = logpOld.map((row) => row.map((v) => v + spread * (2 * r() - 1)));
  return {
    logp,
    logpOld,
    logpRef: logp.map((row) => row.map((v) => v + 0.6 * (r() - 0.5))),
    entropy: lens.map((t) => Array.from({ length: t }, () => 3 * r())),
    // whole responses masked (overlong filtering), never the first, so a batch always has tokens
    mask: lens.map((t, i) => Array(t).fill(i > 0 && r() < 0.2 ? 0 : 1)),
    advantages: lens.map(() => 4 * r() - 2),
  };
}

async function agree(p: AlgorithmParams, seeds: number, digits = 12): Promise<void> {
  const run = await runner(p, { ref: true, entropy: true });
  const spread = p.policy_loss === "gspo" ? 1e-3 : 0.4;
  for (let seed = 1; seed <= seeds; seed++) {
    const x = randomInput(seed * 104729, spread);
    const want = referenceLoss(p, x);
    const got = await run.run(x);
    const where = `${JSON.stringify(p)} seed ${seed}`;
    expect(got.loss, where).toBeCloseTo(want.loss, digits);
    closeRows(got.gradLogp, want.gradLogp, digits);
    closeRows(got.gradEntropy!, want.gradEntropy!, digits);
    for (const [k, v] of Object.entries(want.metrics)) {
      expect(got.metrics[k as keyof typeof got.metrics], `${k} ${where}`).toBeCloseTo(v as number, digits);
    }
  }
}

describe("graph - agrees with the reference (float64)", () => {
  it("every preset, 8 random batches each", async () => {
    for (const name of presets.names()) {
      await agree(presetSpec(name, { max_response_length: 16, overlong_buffer: 4, entropy_coef: 0.01, kl_coef: 0.05 }).params, 8);
    }
  });

  it("policy loss x aggregation x KL estimator x dual clip", async () => {
    for (const policy_loss of ["ppo_clip", "gspo"]) {
      for (const loss_agg of aggregations.names()) {
        for (const kl_estimator of ["k1", "k3"]) {
          for (const dual_clip of [null, 1.5]) {
            await agree(presetSpec("grpo", { policy_loss, loss_agg, kl_estimator, dual_clip, token_sum_norm: 7, entropy_coef: 0.02 }).params, 3);
          }
        }
      }
    }
  });
});

describe("graph - float32", () => {
  it("DAPO in float32 agrees with the float64 reference to float32 precision", async () => {
    const p = presetSpec("dapo", { max_response_length: 16, overlong_buffer: 4 }).params;
    const run = await runner(p, { dtype: "float32", ref: false, entropy: false });
    for (let seed = 1; seed <= 5; seed++) {
      const x = randomInput(seed, 0.4);
      const want = referenceLoss(p, x);
      const got = await run.run({ ...x, logpRef: null, entropy: null });
      expect(got.loss).toBeCloseTo(want.loss, 5);
      closeRows(got.gradLogp, want.gradLogp, 5);
    }
  });
});

describe("aggregation - contract the GSPO graph form relies on", () => {
  it("every mode gives a sequence's unmasked tokens one weight and masked tokens 0", () => {
    const r = rng(11);
    for (const name of aggregations.names()) {
      for (let k = 0; k < 50; k++) {
        const mask = Array.from({ length: 1 + Math.floor(r() * 5) }, () => Array.from({ length: 1 + Math.floor(r() * 6) }, () => (r() < 0.3 ? 0 : 1)));
        aggregations.get(name).weights(mask, 9).forEach((row, i) => {
          const live = row.filter((_, t) => mask[i][t] === 1);
          expect(new Set(live).size, name).toBeLessThanOrEqual(1);
          row.forEach((w, t) => mask[i][t] === 0 && expect(w).toBe(0));
        });
      }
    }
  });
});
