import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LengthWindow, orderStatisticsNames, quantileOfSorted } from "@lspo/lspo";

describe.each(orderStatisticsNames)("window (%s) - sliding quantiles", (name) => {
  it("holds the last W slots and its quantiles equal a sort of their lengths", () => {
    const slot = fc.oneof(fc.constant(NaN), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 5000 }).map((s) => s / 8));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(slot, { maxLength: 200 }), fc.double({ min: 0, max: 1, noNaN: true }), (W, pushes, a) => {
        const w = new LengthWindow(W, name);
        pushes.forEach((v, i) => {
          w.push(v);
          const last = pushes.slice(Math.max(0, i + 1 - W), i + 1);
          const lengths = last.filter((x) => !Number.isNaN(x)).sort((p, q) => p - q);
          expect(w.slots).toBe(last.length);
          expect(w.lengths).toBe(lengths.length);
          expect(w.toJSON()).toEqual(last.map((x) => (Number.isNaN(x) ? null : x)));
          // The append-log view: every push counted, the newest k slots the last k pushes.
          expect(w.pushes).toBe(i + 1);
          const k = Math.floor(a * last.length);
          expect([...w.newest(k)]).toEqual(last.slice(last.length - k));
          if (lengths.length > 0) expect(w.quantile(a)).toBe(quantileOfSorted(lengths, a));
          else expect(w.thresholds({ lLow: 0.3, lHigh: 0.65, lMax: 0.95 })).toBeNull();
        });
      }),
      { numRuns: 80 },
    );
  });
});

describe("window - thresholds", () => {
  it("are the three quantiles over the lengths held, with their count", () => {
    const w = new LengthWindow(4, "fenwick");
    for (const v of [10, NaN, 30, 20, 40]) w.push(v); // 10 evicted: slots NaN, 30, 20, 40
    expect(w.thresholds({ lLow: 0.3, lHigh: 0.65, lMax: 0.95 })).toEqual({ low: 20, high: 30, max: 40, windowFill: 3 });
  });
});

describe("window - newest", () => {
  it("refuses a count it does not hold, naming the range", () => {
    const w = new LengthWindow(4, "fenwick");
    for (const v of [1, 2, 3]) w.push(v);
    expect(() => w.newest(4)).toThrow("window.newest: n must be an integer in [0, 3], got 4");
    expect(() => w.newest(-1)).toThrow("window.newest: n must be an integer in [0, 3], got -1");
    expect([...w.newest(0)]).toEqual([]);
  });
});
