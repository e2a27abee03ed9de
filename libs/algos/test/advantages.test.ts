import { describe, expect, it } from "vitest";
import { ADVANTAGE_STD_EPS, advantageEstimators, overlongKeep, overlongPenalty, unbiasedStd } from "../src/index.js";

const std = advantageEstimators.get("group_std");
const meanOnly = advantageEstimators.get("group_mean");

describe("advantages - group_std", () => {
  it("R = [1, 0, 0, 0]: mean 0.25, unbiased var (0.5625 + 3*0.0625)/3 = 0.25, std 0.5", () => {
    expect(unbiasedStd([1, 0, 0, 0])).toBe(0.5);
    const a = std.compute([1, 0, 0, 0]);
    expect(a[0]).toBeCloseTo(0.75 / 0.500001, 15); // 1.4999970000059999
    for (const v of a.slice(1)) expect(v).toBeCloseTo(-0.25 / 0.500001, 15);
  });

  it("R = [1, 2, 3]: mean 2, var (1 + 0 + 1)/2 = 1 -> A = [-1, 0, 1] / (1 + 1e-6)", () => {
    expect(std.compute([1, 2, 3])).toEqual([-1 / 1.000001, 0, 1 / 1.000001]);
  });

  it("the eps is 1e-6 and the std is N-1: R = [0, 2] has std sqrt(2), not 1", () => {
    expect(ADVANTAGE_STD_EPS).toBe(1e-6);
    expect(std.compute([0, 2])[1]).toBeCloseTo(1 / (Math.SQRT2 + 1e-6), 15); // 0.7071064276...
  });

  it("all-equal rewards give zero advantage (0 / 1e-6), a group of one gives 0", () => {
    expect(std.compute([1, 1, 1])).toEqual([0, 0, 0]);
    expect(std.compute([5])).toEqual([0]);
  });
});

describe("advantages - group_mean (Dr. GRPO)", () => {
  it("R - mean, no std division", () => {
    expect(meanOnly.compute([1, 0, 0, 0])).toEqual([0.75, -0.25, -0.25, -0.25]);
    expect(meanOnly.compute([-1, 1])).toEqual([-1, 1]);
    expect(meanOnly.compute([7])).toEqual([0]);
  });
});

describe("shaping - DAPO overlong penalty", () => {
  // L_max = 10, L_cache = 4: no penalty up to 6 tokens, linear to -1 at 10, -1 beyond.
  const s = { maxLength: 10, buffer: 4, factor: 1 };
  it("piecewise: 0 up to L_max - L_cache, ((L_max - L_cache) - |o|)/L_cache inside, -1 beyond", () => {
    expect(overlongPenalty(1, s)).toBe(0);
    expect(overlongPenalty(6, s)).toBe(0);
    expect(overlongPenalty(7, s)).toBe(-0.25); // (6 - 7)/4
    expect(overlongPenalty(9, s)).toBe(-0.75); // (6 - 9)/4
    expect(overlongPenalty(10, s)).toBe(-1); // (6 - 10)/4
    expect(overlongPenalty(11, s)).toBe(-1);
  });
  it("factor scales the penalty", () => {
    expect(overlongPenalty(8, { ...s, factor: 0.5 })).toBe(-0.25); // 0.5 * (6 - 8)/4
    expect(overlongPenalty(12, { ...s, factor: 0.5 })).toBe(-0.5);
  });
  it("overlong filtering keeps a truncated response only when filtering is off", () => {
    expect(overlongKeep(true, true)).toBe(false);
    expect(overlongKeep(true, false)).toBe(true);
    expect(overlongKeep(false, true)).toBe(true);
  });
});
