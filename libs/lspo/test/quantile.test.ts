import { describe, expect, it } from "vitest";
import { judgeLength, quantileOfSorted, quantileRank, thresholdsOfSorted } from "@lspo/lspo";

const levels = { lLow: 0.3, lHigh: 0.65, lMax: 0.95 };

describe("quantile - lower empirical quantile (inverted_cdf)", () => {
  it("rank is max(1, ceil(a*n)) with numpy's float product", () => {
    expect(quantileRank(0.3, 10)).toBe(3); // 0.3*10 = 3 exactly in floats
    expect(quantileRank(0.65, 20)).toBe(13); // 0.65*20 = 13: F(13th) = 0.65 >= 0.65
    expect(quantileRank(0.65, 10)).toBe(7); // 6.5 -> 7
    expect(quantileRank(0.95, 10)).toBe(10); // 9.5 -> 10
    expect(quantileRank(0.3, 7)).toBe(3); // 2.1 -> 3
    expect(quantileRank(0, 5)).toBe(1); // Q(0) is the minimum
    expect(quantileRank(1, 5)).toBe(5);
    expect(quantileRank(0.01, 1)).toBe(1);
  });

  it("matches numpy 2.4.6 np.quantile(x, q, method='inverted_cdf') on a sample with ties", () => {
    const x = [7, 3, 3, 12, 5, 9.5, 3, 20, 11, 5, 8, 14.25, 6, 2, 17].sort((a, b) => a - b);
    const qs = [0, 0.05, 0.1, 0.3, 0.5, 0.65, 0.95, 1];
    // Printed by numpy 2.4.6 for exactly this x and these q.
    const numpy = [2.0, 2.0, 3.0, 5.0, 7.0, 9.5, 20.0, 20.0];
    expect(qs.map((q) => quantileOfSorted(x, q))).toEqual(numpy);
  });

  it("thresholds of 1..20 are 6, 13, 19 (numpy agrees)", () => {
    const x = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(thresholdsOfSorted(x, levels)).toEqual({ low: 6, high: 13, max: 19, windowFill: 20 });
  });

  it("an empty sample has no quantile", () => {
    expect(() => quantileOfSorted([], 0.5)).toThrow(/empty/);
  });
});

describe("quantile - the keep rule, bounds inclusive", () => {
  const x = Array.from({ length: 20 }, (_, i) => i + 1); // Q = 6 / 13 / 19
  const Q = (a: number): number => quantileOfSorted(x, a);
  it("keeps L <= Q(lLow) and Q(lHigh) <= L <= Q(lMax), drops the middle and the top", () => {
    const verdicts = Object.fromEntries(x.map((L) => [L, judgeLength(L, levels, Q)]));
    expect(verdicts).toEqual({
      1: "short", 2: "short", 3: "short", 4: "short", 5: "short", 6: "short",
      7: "middle-length", 8: "middle-length", 9: "middle-length", 10: "middle-length", 11: "middle-length", 12: "middle-length",
      13: "long", 14: "long", 15: "long", 16: "long", 17: "long", 18: "long", 19: "long",
      20: "too-long",
    });
  });

  it("values between sample points fall on the side their comparison says", () => {
    expect(judgeLength(6.5, levels, Q)).toBe("middle-length");
    expect(judgeLength(12.999, levels, Q)).toBe("middle-length");
    expect(judgeLength(19.0001, levels, Q)).toBe("too-long");
  });

  it("evaluates only the quantiles the answer needs", () => {
    const asked: number[] = [];
    const spy = (a: number): number => (asked.push(a), Q(a));
    judgeLength(3, levels, spy);
    expect(asked).toEqual([0.3]);
  });
});
