// The log-ratio clamp (params.log_ratio_clamp, default 20) and the non-finite guard: an overflowing ratio
// gives a finite loss with no gradient through the clamped token; with the clamp off, the NaN / infinity is
// an error naming the response (and, from evaluateBatch, its group). Reference and graph forms agree.
import { afterAll, describe, expect, it } from "vitest";
import { evaluateBatch, NonFiniteLossError, presetSpec, referenceLoss } from "../src/index.js";
import { GraphLossRunner } from "./graph-support.js";
import { closeRows, inputFromLogRatios } from "./helpers.js";

const runners: GraphLossRunner[] = [];
afterAll(async () => {
  for (const r of runners) await r.release();
});

describe("log-ratio clamp - reference", () => {
  it("PPO clip, A = 0, log-ratio 1000: finite loss 0 (was NaN), no gradient through the clamped token", () => {
    // Token 0: log-ratio 1000 -> clamped to 20, ratio e^20; l = max(-0*e^20, -0*1.28) = 0, gradient 0.
    // Token 1: log-ratio 0 in a second response with A = 0: loss 0 too.
    const x = inputFromLogRatios([[1000], [0]], [0, 0]);
    const r = referenceLoss(presetSpec("dapo").params, x);
    expect(r.loss).toBe(0);
    expect(r.gradLogp).toEqual([[0], [0]]);
    // approx_kl on the clamped log-ratio: (e^20 - 1 - 20 + 0) / 2 tokens.
    expect(r.metrics.approx_kl).toBeCloseTo((Math.exp(20) - 21) / 2, 4);
  });

  it("PPO clip, A = 1, log-ratio -1000: ratio e^-20, the unclipped branch, no gradient through the clamp", () => {
    // A = 1, rho = e^-20: unclipped -rho = -2.06e-9, clipped -(0.8) = -0.8; max is the unclipped -rho, whose
    // gradient -A*rho is cut by the clamp (the log-ratio sits outside [-20, 20]): 0.
    const x = inputFromLogRatios([[-1000]], [1]);
    const r = referenceLoss(presetSpec("dapo").params, x);
    expect(r.loss).toBeCloseTo(-Math.exp(-20), 20);
    expect(r.gradLogp).toEqual([[0]]);
    // Inside the band (log-ratio -19) the gradient flows: -A*rho.
    const inside = referenceLoss(presetSpec("dapo").params, inputFromLogRatios([[-19]], [1]));
    expect(inside.gradLogp[0][0]).toBeCloseTo(-Math.exp(-19), 20);
  });

  it("GSPO, A < 0, sequence log-ratio 500: s = e^20 and a finite loss |A| e^20 (was +Infinity)", () => {
    // Two tokens with log-ratios 1000 and 0: mean 500 -> clamped to 20. No dual clip in GSPO, A = -1:
    // l = max(e^20, clip(e^20)) = e^20 per token, seq-mean-token-mean -> e^20; gradient 0 (clamped).
    const x = inputFromLogRatios([[1000, 0]], [-1]);
    const r = referenceLoss(presetSpec("gspo").params, x);
    expect(r.loss).toBeCloseTo(Math.exp(20), 4);
    expect(r.gradLogp).toEqual([[0, 0]]);
  });

  it("with the clamp off (GSPO: mean log-ratio 750, e^750 overflows) an overflowing batch is an error naming the response and token", () => {
    const p = presetSpec("dapo", { log_ratio_clamp: null }).params;
    const x = inputFromLogRatios([[0], [0, 1000]], [1, 0]);
    expect(() => referenceLoss(p, x)).toThrow(NonFiniteLossError);
    expect(() => referenceLoss(p, x)).toThrow(/non-finite loss \(NaN\) at responses\[1\] token 1/);
    const g = presetSpec("gspo", { log_ratio_clamp: null }).params;
    expect(() => referenceLoss(g, inputFromLogRatios([[1500, 0]], [-1]))).toThrow(/non-finite loss \(Infinity\) at responses\[0\] token 0/);
  });

  it("evaluateBatch names the group and response", () => {
    const spec = presetSpec("dapo", { log_ratio_clamp: null, overlong_shaping: false });
    const ok = { logp: [-1], logp_old: [-1] };
    const batch = { groups: [{ rewards: [1, 0], responses: [ok, ok] }, { rewards: [1, 1], responses: [ok, { logp: [0], logp_old: [-1000] }] }] };
    expect(() => evaluateBatch(spec, batch)).toThrow(/at groups\[1\]\.responses\[1\] token 0/);
    // The default clamp makes it finite.
    expect(Number.isFinite(evaluateBatch(presetSpec("dapo", { overlong_shaping: false }), batch).loss)).toBe(true);
  });

  it("a KL term that overflows is named too (the clamp bounds ratios, not k3)", () => {
    // k3 = e^(ref - logp) - (ref - logp) - 1 with ref - logp = 1000: +Infinity.
    const x = { ...inputFromLogRatios([[0]], [1]), logpRef: [[999]] };
    expect(() => referenceLoss(presetSpec("grpo").params, x)).toThrow(/non-finite loss \(Infinity\) at responses\[0\] token 0/);
  });
});

describe("log-ratio clamp - graph form", () => {
  it("agrees with the reference on clamped and unclamped tokens (PPO clip and GSPO, float64)", async () => {
    for (const name of ["dapo", "gspo"]) {
      const p = presetSpec(name, { overlong_shaping: false }).params;
      const x = inputFromLogRatios([[25, -0.1, 0.05], [-30, 0.2], [19.5]], [1, -0.5, -1]);
      const want = referenceLoss(p, x);
      const r = await GraphLossRunner.create(p, { ref: false, entropy: false });
      runners.push(r);
      const got = await r.run(x);
      expect(got.loss).toBeCloseTo(want.loss, 6);
      closeRows(got.gradLogp, want.gradLogp, 9);
      expect(got.metrics.approx_kl).toBeCloseTo(want.metrics.approx_kl, 6);
    }
  });
});

describe("seq-mean-token-sum", () => {
  it("mean over live sequences of each sequence's token sum", () => {
    // Ratios 1 (PPO clip): l_t = -A. Sequences: A = 1 with 3 tokens, A = -1 with 1 token, one all-masked.
    // Sums: -3 and +1; mean over the 2 live sequences = -1. Gradients: -A * 1/2 per unmasked token.
    const x = inputFromLogRatios([[0, 0, 0], [0], [0, 0]], [1, -1, 2]);
    x.mask[2] = [0, 0];
    const r = referenceLoss(presetSpec("dapo", { loss_agg: "seq-mean-token-sum" }).params, x);
    expect(r.loss).toBeCloseTo(-1, 15);
    expect(r.gradLogp).toEqual([[-0.5, -0.5, -0.5], [0.5], [0, 0]]);
  });
});
