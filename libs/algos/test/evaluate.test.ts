// End-to-end: raw batch -> shaping -> advantages -> loss and gradient, for each preset, worked by hand.
import { describe, expect, it } from "vitest";
import { evaluateBatch, presetSpec } from "../src/index.js";

/** A response of `len` tokens with logp = logp_old = -0.5 (ratio 1 everywhere). */
const flat = (len: number, extra: Record<string, unknown> = {}) => ({
  logp: Array(len).fill(-0.5),
  logp_old: Array(len).fill(-0.5),
  ...extra,
});

describe("evaluate - GRPO", () => {
  it("R = [1, 0]: A = +-0.5/(sqrt(0.5) + 1e-6); ratio 1; k3 KL only on response 1", () => {
    // std of [1, 0] (N-1) = sqrt(0.5) = 0.7071067811865476; A = [a, -a], a = 0.5/(0.7071067811865476 + 1e-6)
    // response 0: 2 tokens, logp_ref = logp -> KL 0.  pg per token = -a.
    // response 1: 1 token, logp -0.5, ref -1.5 -> x = -1, k3 = e^-1 + 1 - 1 = e^-1; dk3/dlogp = 1 - e^-1.
    // seq-mean-token-mean: loss = ( (-a - a)/2 + (a + 0.04 e^-1) ) / 2 = 0.02 e^-1
    const a = 0.5 / (Math.SQRT1_2 + 1e-6);
    const batch = {
      groups: [{
        rewards: [1, 0],
        responses: [flat(2, { logp_ref: [-0.5, -0.5] }), flat(1, { logp_ref: [-1.5] })],
      }],
    };
    const r = evaluateBatch(presetSpec("grpo"), batch);
    expect(r.advantages[0][0]).toBeCloseTo(a, 15);
    expect(r.loss).toBeCloseTo(0.02 * Math.exp(-1), 14);
    // gradients: response 0 tokens (1/(2*2)) * (-a); response 1: (1/2) * (a + 0.04 (1 - e^-1))
    expect(r.gradLogp[0][0][0]).toBeCloseTo(-a / 4, 14);
    expect(r.gradLogp[0][0][1]).toBeCloseTo(-a / 4, 14);
    expect(r.gradLogp[0][1][0]).toBeCloseTo((a + 0.04 * (1 - Math.exp(-1))) / 2, 14);
    expect(r.metrics.ref_kl).toBeCloseTo(Math.exp(-1) / 3, 14);
  });
});

describe("evaluate - DAPO overlong shaping and filtering", () => {
  // L_max 6, L_cache 2 (no penalty up to 4 tokens). Lengths [3, 5, 7] -> penalties [0, (4-5)/2, -1].
  // Rewards [1, 1, 0] -> shaped [1, 0.5, -1]; mean 1/6; deviations [5/6, 1/3, -7/6];
  // ss = 25/36 + 4/36 + 49/36 = 13/6, var = 13/12, std = sqrt(13/12); A_i = dev_i / (std + 1e-6).
  const batch = (truncated: boolean) => ({
    groups: [{ rewards: [1, 1, 0], responses: [flat(3), flat(5), flat(7, { truncated })] }],
  });
  const spec = presetSpec("dapo", { max_response_length: 6, overlong_buffer: 2 });
  const d = Math.sqrt(13 / 12) + 1e-6;

  it("shaped advantages and token-mean loss: -(3*5/6 + 5/3 - 7*7/6)/(15 d) = 4/(15 d)", () => {
    const r = evaluateBatch(spec, batch(true));
    expect(r.advantages[0]).toEqual([5 / 6 / d, 1 / 3 / d, -7 / 6 / d].map((v) => expect.closeTo(v, 14)));
    expect(r.loss).toBeCloseTo(4 / (15 * d), 14);
    expect(r.gradLogp[0][2][0]).toBeCloseTo(7 / 6 / d / 15, 14); // -A/15 with A = -7/(6d)
  });

  it("overlong filtering masks the truncated response out: -(25/6)/(8 d)", () => {
    const r = evaluateBatch(presetSpec("dapo", { max_response_length: 6, overlong_buffer: 2, overlong_filter: true }), batch(true));
    expect(r.loss).toBeCloseTo(-(25 / 6) / (8 * d), 14);
    expect(r.gradLogp[0][2]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(r.gradLogp[0][0][0]).toBeCloseTo(-(5 / 6) / d / 8, 14);
    // Not truncated -> kept even with filtering on.
    expect(evaluateBatch(presetSpec("dapo", { max_response_length: 6, overlong_buffer: 2, overlong_filter: true }), batch(false)).loss)
      .toBeCloseTo(4 / (15 * d), 14);
  });
});

describe("evaluate - Dr. GRPO", () => {
  it("R = [1, 0, 0]: A = [2/3, -1/3, -1/3]; lengths [1, 1, 3]; loss = (-2/3 + 1/3 + 3/3)/C with C = 8", () => {
    const batch = { groups: [{ rewards: [1, 0, 0], responses: [flat(1), flat(1), flat(3)] }] };
    const r = evaluateBatch(presetSpec("dr_grpo", { max_response_length: 8 }), batch);
    expect(r.loss).toBeCloseTo(2 / 3 / 8, 15); // = 1/12
    expect(r.gradLogp[0][0][0]).toBeCloseTo(-2 / 3 / 8, 15);
    expect(r.gradLogp[0][2]).toEqual([1, 1, 1].map(() => expect.closeTo(1 / 3 / 8, 15)));
  });
});

describe("evaluate - GSPO across groups", () => {
  it("two groups of two; nesting follows groups -> responses -> tokens", () => {
    // group 0: R [1, 0] -> A = +-a; group 1: R [0, 0] -> A = 0 (no gradient). Ratio 1 -> s = 1, unclipped.
    // mean over 4 sequences of -A s_i = (-a + a + 0 + 0)/4 = 0; gradient on group 0 tokens -A/(4 |o_i|).
    const a = 0.5 / (Math.SQRT1_2 + 1e-6);
    const batch = {
      groups: [
        { rewards: [1, 0], responses: [flat(2), flat(1)] },
        { rewards: [0, 0], responses: [flat(1), flat(3)] },
      ],
    };
    const r = evaluateBatch(presetSpec("gspo"), batch);
    expect(r.loss).toBeCloseTo(0, 15);
    expect(r.gradLogp.map((g) => g.map((resp) => resp.length))).toEqual([[2, 1], [1, 3]]);
    expect(r.gradLogp[0][0][0]).toBeCloseTo(-a / 8, 14);
    expect(r.gradLogp[0][1][0]).toBeCloseTo(a / 4, 14);
    expect(r.gradLogp[1].flat()).toEqual([0, 0, 0, 0]);
  });
});
