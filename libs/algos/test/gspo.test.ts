// GSPO reference against hand-worked values with the published clip range 3e-4 / 4e-4.
//   s_i = exp(mean_t(logp - logp_old)); l_i = max(-A s_i, -A clip(s_i, 0.9997, 1.0004)); loss = mean_i l_i.
//   seq 0, A=+1, diffs [1e-4, 3e-4]: s = e^2e-4 = 1.00020002  inside  -> l = -e^2e-4
//   seq 1, A=+1, diffs [1e-3 x3]:    s = e^1e-3 = 1.0010005   > 1.0004 -> clipped high, l = -1.0004
//   seq 2, A=-1, diffs [-1e-3]:      s = e^-1e-3 = 0.9990005  < 0.9997 -> clipped low, l = 0.9997
//   seq 3, A=-1, diffs [0, -2e-4]:   s = e^-1e-4 = 0.99990000 inside  -> l = e^-1e-4
// Gradient of mean_i l_i: d s_i / d logp_t = s_i / |o_i|, so d loss / d logp_t = (1/4) * (-A s_i) / |o_i|
// for unclipped sequences and 0 for clipped ones: the sequence gradient spread evenly over its tokens.
import { describe, expect, it } from "vitest";
import { presetSpec, referenceLoss } from "../src/index.js";
import { closeRows, inputFromLogRatios } from "./helpers.js";

const x = inputFromLogRatios(
  [[1e-4, 3e-4], [1e-3, 1e-3, 1e-3], [-1e-3], [0, -2e-4]],
  [1, 1, -1, -1],
);
const p = presetSpec("gspo").params;

describe("gspo - hand-worked", () => {
  it("loss is the mean of the four sequence losses", () => {
    const r = referenceLoss(p, x);
    expect(r.loss).toBeCloseTo((-Math.exp(2e-4) - 1.0004 + 0.9997 + Math.exp(-1e-4)) / 4, 14);
  });

  it("gradient: (1/4)(-A s_i)/|o_i| on every token of an unclipped sequence, 0 on clipped ones", () => {
    const r = referenceLoss(p, x);
    closeRows(r.gradLogp, [
      [-Math.exp(2e-4) / 8, -Math.exp(2e-4) / 8],
      [0, 0, 0],
      [0],
      [Math.exp(-1e-4) / 8, Math.exp(-1e-4) / 8],
    ], 14);
  });

  it("clip fractions count tokens: 3 of 8 clipped high, 1 of 8 clipped low", () => {
    const m = referenceLoss(p, x).metrics;
    expect(m.clip_frac_high).toBeCloseTo(3 / 8, 15);
    expect(m.clip_frac_low).toBeCloseTo(1 / 8, 15);
    expect(m.clip_frac_dual).toBe(0);
  });

  it("the same tokens under per-token PPO-clip with GSPO's range clip differently (seq 0 token 1: r = e^3e-4 is inside)", () => {
    // Token ratios of seq 3 [1, e^-2e-4] are both inside (0.9997, 1.0004); under GSPO seq 1 is clipped as a
    // whole, under ppo_clip each e^1e-3 token is clipped too; seq 2's lone token is clipped low either way.
    const r = referenceLoss({ ...p, policy_loss: "ppo_clip" }, x);
    // ppo_clip, seq-mean-token-mean: seq 0: (-e^1e-4 - e^3e-4)/2; seq 1: -1.0004; seq 2: 0.9997;
    // seq 3: (1 + e^-2e-4)/2; mean over 4.
    const expected = ((-Math.exp(1e-4) - Math.exp(3e-4)) / 2 - 1.0004 + 0.9997 + (1 + Math.exp(-2e-4)) / 2) / 4;
    expect(r.loss).toBeCloseTo(expected, 14);
    // per-token gradient: (1/(4*2)) * (-A r_t) on seq 0 and 3.
    closeRows(r.gradLogp, [
      [-Math.exp(1e-4) / 8, -Math.exp(3e-4) / 8],
      [0, 0, 0],
      [0],
      [1 / 8, Math.exp(-2e-4) / 8],
    ], 14);
  });

  it("a masked token does not enter the sequence ratio", () => {
    // Mask seq 0 token 1 (diff 3e-4): s_0 = e^1e-4 over one token; loss and gradient of that token only.
    const mask = x.mask.map((row) => [...row]);
    mask[0][1] = 0;
    const r = referenceLoss(p, { ...x, mask });
    expect(r.loss).toBeCloseTo((-Math.exp(1e-4) - 1.0004 + 0.9997 + Math.exp(-1e-4)) / 4, 14);
    expect(r.gradLogp[0][0]).toBeCloseTo(-Math.exp(1e-4) / 4, 14);
    expect(r.gradLogp[0][1]).toBe(0);
  });
});
