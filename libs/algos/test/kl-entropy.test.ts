// KL to the reference policy and the entropy bonus, hand-worked on one unclipped token (r = 1, A = 0.5):
//   policy term l = -A r = -0.5, d/dlogp = -0.5.
//   logp = -1, logp_ref = -1.5, x = ref - logp = -0.5:
//     k3 = e^-0.5 + 0.5 - 1 = 0.10653065971263342,  d k3/dlogp = 1 - e^-0.5 = 0.3934693402873666
//     k1 = logp - ref = 0.5,                          d k1/dlogp = 1
import { describe, expect, it } from "vitest";
import { klEstimators, presetSpec, referenceLoss } from "../src/index.js";
import { closeRows } from "./helpers.js";

const one = { logp: [[-1]], logpOld: [[-1]], logpRef: [[-1.5]], entropy: [[2]], mask: [[1]], advantages: [0.5] };
const grpo = presetSpec("grpo").params; // beta 0.04, k3

describe("kl - estimators", () => {
  it("k3 and k1 values and derivatives", () => {
    expect(klEstimators.get("k3").value(-1, -1.5)).toBeCloseTo(0.10653065971263342, 15);
    expect(klEstimators.get("k3").dLogp(-1, -1.5)).toBeCloseTo(0.3934693402873666, 15);
    expect(klEstimators.get("k1").value(-1, -1.5)).toBe(0.5);
    expect(klEstimators.get("k1").dLogp(-1, -1.5)).toBe(1);
    // k3 is zero with zero slope where the policies agree.
    expect(klEstimators.get("k3").value(-2, -2)).toBe(0);
    expect(klEstimators.get("k3").dLogp(-2, -2)).toBe(0);
  });
});

describe("kl - in the loss", () => {
  it("GRPO: l = -0.5 + 0.04 * k3, gradient -0.5 + 0.04 * (1 - e^-0.5)", () => {
    const r = referenceLoss(grpo, { ...one, entropy: null });
    expect(r.loss).toBeCloseTo(-0.5 + 0.04 * 0.10653065971263342, 15);
    expect(r.gradLogp[0][0]).toBeCloseTo(-0.5 + 0.04 * 0.3934693402873666, 15);
    expect(r.metrics.ref_kl).toBeCloseTo(0.10653065971263342, 15);
  });

  it("k1 with beta 0.1: l = -0.5 + 0.05, gradient -0.5 + 0.1", () => {
    const r = referenceLoss({ ...grpo, kl_estimator: "k1", kl_coef: 0.1 }, { ...one, entropy: null });
    expect(r.loss).toBeCloseTo(-0.45, 15);
    expect(r.gradLogp[0][0]).toBeCloseTo(-0.4, 15);
  });

  it("kl_coef 0 ignores logp_ref and reports ref_kl null", () => {
    const r = referenceLoss({ ...grpo, kl_coef: 0 }, { ...one, logpRef: null, entropy: null });
    expect(r.loss).toBe(-0.5);
    expect(r.metrics.ref_kl).toBeNull();
  });

  it("kl on without logp_ref is an error, not a silent zero", () => {
    expect(() => referenceLoss(grpo, { ...one, logpRef: null })).toThrow(/needs logpRef/);
  });
});

describe("entropy - bonus", () => {
  it("l -= 0.01 * H: with H = 2 the loss drops by 0.02; d loss/d H = -0.01 * w; logp gradient unchanged", () => {
    const p = { ...grpo, kl_coef: 0, entropy_coef: 0.01 };
    const r = referenceLoss(p, { ...one, logpRef: null });
    expect(r.loss).toBeCloseTo(-0.52, 15);
    expect(r.gradLogp[0][0]).toBe(-0.5);
    closeRows(r.gradEntropy!, [[-0.01]], 15);
    expect(r.metrics.entropy).toBe(2);
  });

  it("two sequences, seq-mean-token-mean: d loss/d H_t = -coef / (|o_i| * N)", () => {
    const x = {
      logp: [[-1, -1], [-1]], logpOld: [[-1, -1], [-1]], logpRef: null,
      entropy: [[1, 3], [0.5]], mask: [[1, 1], [1]], advantages: [0, 0],
    };
    const r = referenceLoss({ ...grpo, kl_coef: 0, entropy_coef: 0.1 }, x);
    // loss = mean( -0.1*(1+3)/2, -0.1*0.5 ) = (-0.2 - 0.05)/2 = -0.125
    expect(r.loss).toBeCloseTo(-0.125, 15);
    closeRows(r.gradEntropy!, [[-0.1 / 4, -0.1 / 4], [-0.1 / 2]], 15);
    expect(r.metrics.entropy).toBeCloseTo(1.5, 15); // token mean (1 + 3 + 0.5) / 3
  });

  it("entropy_coef > 0 without entropy is an error", () => {
    expect(() => referenceLoss({ ...grpo, kl_coef: 0, entropy_coef: 0.1 }, { ...one, logpRef: null, entropy: null })).toThrow(/needs entropy/);
  });
});
