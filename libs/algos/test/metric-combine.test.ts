// combineMetrics: micro-batch means weighted by what they are means over, so the update's metrics do not
// depend on how it was split. Hand-worked values; and the reference on a whole batch equals the combined
// reference on its parts.
import { describe, expect, it } from "vitest";
import { combineMetrics, MetricCombineError, presetSpec, referenceLoss, type LossInput } from "../src/index.js";
import { inputFromLogRatios } from "./helpers.js";

describe("combineMetrics", () => {
  it("token means by tokens, mean |A| by responses, counts summed", () => {
    // Part 1: 3 tokens, clip_frac_low 1/3, 1 response |A| 2; part 2: 1 token, clip_frac_low 1, 2 responses |A| 0.5.
    // clip_frac_low = (1 + 1)/4 = 0.5; mean |A| = (2 + 2*0.5)/3 = 1; tokens 4, responses 3.
    const out = combineMetrics([
      { clip_frac_low: 1 / 3, mean_abs_advantage: 2, tokens: 3, responses: 1 },
      { clip_frac_low: 1, mean_abs_advantage: 0.5, tokens: 1, responses: 2 },
    ]);
    expect(out).toEqual({ clip_frac_low: 0.5, mean_abs_advantage: 1, tokens: 4, responses: 3 });
    // A part with no tokens weighs nothing; all-empty gives 0 (as each part reports).
    expect(combineMetrics([{ approx_kl: 0, tokens: 0, responses: 0 }, { approx_kl: 0.2, tokens: 5, responses: 1 }]).approx_kl).toBeCloseTo(0.2, 15);
    expect(combineMetrics([{ approx_kl: 0, tokens: 0, responses: 0 }]).approx_kl).toBe(0);
    expect(() => combineMetrics([{ approx_kl: 0.1, tokens: 2 }])).toThrow(MetricCombineError);
  });

  it("the reference's metrics on a batch equal the combined metrics of its parts", () => {
    const x = inputFromLogRatios([[0.3, -0.4, 0.1], [0.5], [-0.3, 0.2], [0.05, -0.6, 0.4, 0.1]], [1, -1.5, 0.7, -0.2]);
    const p = presetSpec("dapo", { overlong_shaping: false }).params;
    const part = (from: number, to: number): LossInput => ({
      ...x, logp: x.logp.slice(from, to), logpOld: x.logpOld.slice(from, to), mask: x.mask.slice(from, to), advantages: x.advantages.slice(from, to),
    });
    const whole = referenceLoss(p, x).metrics;
    const asRecord = (m: typeof whole) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null)) as Record<string, number>;
    const combined = combineMetrics([part(0, 1), part(1, 3), part(3, 4)].map((q) => asRecord(referenceLoss(p, q).metrics)));
    for (const [k, v] of Object.entries(asRecord(whole))) expect(combined[k], k).toBeCloseTo(v, 14);
    expect(whole.clip_frac_low + whole.clip_frac_high).toBeGreaterThan(0);
  });
});
