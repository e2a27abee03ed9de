// PPO-clip reference against hand-worked values. The batch (logp_old = -1, ratios chosen exactly):
//   seq 0, A = +1, ratios [1, 1.5, 0.5]
//   seq 1, A = -2, ratios [0.5, 1.1, 4, 1]
// with clip_low 0.2, clip_high 0.28 (DAPO), dual clip c = 3. Per token l = max(-A r, -A clip(r, 0.8, 1.28)):
//   seq 0: r=1   -> -1 vs -1 (tie, unclipped)           l = -1     dl/dlogp = -A r = -1
//          r=1.5 -> -1.5 vs -1.28 (clip high wins)      l = -1.28  grad 0
//          r=0.5 -> -0.5 vs -0.8 (unclipped wins)       l = -0.5   grad -0.5
//   seq 1: r=0.5 -> 1 vs 2*0.8=1.6 (clip low wins)      l = 1.6    grad 0
//          r=1.1 -> 2.2 vs 2.2 (tie, unclipped)         l = 2.2    grad 2*1.1 = 2.2
//          r=4   -> 8 vs 2.56 -> 8, dual: min(8, 2*3=6) l = 6      grad 0
//          r=1   -> 2 vs 2                              l = 2      grad 2
// Sums: seq 0 = -2.78 (3 tokens), seq 1 = 11.8 (4 tokens); all tokens 9.02 over 7.
import { describe, expect, it } from "vitest";
import { presetSpec, referenceLoss } from "../src/index.js";
import { closeRows, inputFromLogRatios } from "./helpers.js";

const x = inputFromLogRatios(
  [
    [0, Math.log(1.5), Math.log(0.5)],
    [Math.log(0.5), Math.log(1.1), Math.log(4), 0],
  ],
  [1, -2],
);
const dl = [
  [-1, 0, -0.5],
  [0, 2.2, 0, 2],
];
const params = (agg: string, extra: Record<string, unknown> = {}) =>
  presetSpec("dapo", { loss_agg: agg, max_response_length: 10, overlong_shaping: false, ...extra }).params;

describe("ppo_clip - hand-worked", () => {
  it("token-mean: 9.02 / 7, gradient dl/7", () => {
    const r = referenceLoss(params("token-mean"), x);
    expect(r.loss).toBeCloseTo(9.02 / 7, 12);
    closeRows(r.gradLogp, dl.map((row) => row.map((d) => d / 7)));
  });

  it("seq-mean-token-mean: (-2.78/3 + 11.8/4) / 2, gradient dl/(|o_i|*2)", () => {
    const r = referenceLoss(params("seq-mean-token-mean"), x);
    expect(r.loss).toBeCloseTo((-2.78 / 3 + 11.8 / 4) / 2, 12); // = 1.011666...
    closeRows(r.gradLogp, [dl[0].map((d) => d / 6), dl[1].map((d) => d / 8)]);
  });

  it("seq-mean-token-sum-norm: C defaults to max_response_length (10): 9.02 / 10", () => {
    const r = referenceLoss(params("seq-mean-token-sum-norm"), x);
    expect(r.loss).toBeCloseTo(0.902, 12);
    closeRows(r.gradLogp, dl.map((row) => row.map((d) => d / 10)));
  });

  it("seq-mean-token-sum-norm: an explicit token_sum_norm replaces C: 9.02 / 4", () => {
    const r = referenceLoss(params("seq-mean-token-sum-norm", { token_sum_norm: 4 }), x);
    expect(r.loss).toBeCloseTo(2.255, 12);
    closeRows(r.gradLogp, dl.map((row) => row.map((d) => d / 4)));
  });

  it("without dual clip the r=4, A=-2 token costs 8 and has gradient 8", () => {
    // Sums become seq 1 = 1.6 + 2.2 + 8 + 2 = 13.8; token-mean (−2.78 + 13.8)/7 = 11.02/7.
    const r = referenceLoss(params("token-mean", { dual_clip: null }), x);
    expect(r.loss).toBeCloseTo(11.02 / 7, 12);
    expect(r.gradLogp[1][2]).toBeCloseTo(8 / 7, 12);
    expect(r.metrics.clip_frac_dual).toBe(0);
  });

  it("symmetric clip 0.2/0.2 clips r=1.5 at 1.2 (A>0)", () => {
    // seq 0 token 1: max(-1.5, -1.2) = -1.2 instead of -1.28: token-mean (9.02 + 0.08)/7.
    const r = referenceLoss(params("token-mean", { clip_high: 0.2 }), x);
    expect(r.loss).toBeCloseTo(9.1 / 7, 12);
  });

  it("metrics: one token each clipped low, high, dual; mean |A| = 1.5; approx_kl is k3 of the ratios", () => {
    const r = referenceLoss(params("token-mean"), x).metrics;
    expect(r.clip_frac_low).toBeCloseTo(1 / 7, 15);
    expect(r.clip_frac_high).toBeCloseTo(1 / 7, 15);
    expect(r.clip_frac_dual).toBeCloseTo(1 / 7, 15);
    expect(r.mean_abs_advantage).toBe(1.5);
    expect(r.tokens).toBe(7);
    expect(r.ref_kl).toBeNull();
    expect(r.entropy).toBeNull();
    // k3(r) = r - 1 - ln r: r=1 -> 0 (twice); 1.5 -> 0.5 - ln 1.5; 0.5 -> -0.5 + ln 2 (twice);
    // 1.1 -> 0.1 - ln 1.1; 4 -> 3 - ln 4.
    const k3 = (0.5 - Math.log(1.5)) + 2 * (-0.5 + Math.log(2)) + (0.1 - Math.log(1.1)) + (3 - Math.log(4));
    expect(r.approx_kl).toBeCloseTo(k3 / 7, 12); // = 0.2788...
  });

  it("masked tokens contribute neither loss nor gradient nor metrics", () => {
    // Mask seq 1 out entirely: token-mean over seq 0 only: -2.78/3.
    const r = referenceLoss(params("token-mean"), { ...x, mask: [[1, 1, 1], [0, 0, 0, 0]] });
    expect(r.loss).toBeCloseTo(-2.78 / 3, 12);
    closeRows(r.gradLogp, [[-1 / 3, 0, -0.5 / 3], [0, 0, 0, 0]]);
    expect(r.metrics.tokens).toBe(3);
    expect(r.metrics.mean_abs_advantage).toBe(1);
    // seq-mean-token-mean counts only sequences that have tokens: the same -2.78/3.
    expect(referenceLoss(params("seq-mean-token-mean"), { ...x, mask: [[1, 1, 1], [0, 0, 0, 0]] }).loss).toBeCloseTo(-2.78 / 3, 12);
  });

  it("an all-masked batch has loss 0 and zero gradient, not NaN", () => {
    for (const agg of ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]) {
      const r = referenceLoss(params(agg), { ...x, mask: [[0, 0, 0], [0, 0, 0, 0]] });
      expect(r.loss).toBe(0);
      expect(r.gradLogp.flat().every((g) => g === 0)).toBe(true);
    }
  });
});
