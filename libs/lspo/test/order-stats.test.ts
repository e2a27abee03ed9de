import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createOrderStatistics, orderStatisticsNames } from "@lspo/lspo";

type Op = { add: number } | { del: number };

// Values as the sampler makes them: mean lengths S/G (ties and fractions), plus rare huge ones that force
// the Fenwick multiset to widen its buckets past 65536 tokens.
const meanLength = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.nat(4000), fc.integer({ min: 1, max: 8 })).map(([s, g]) => s / g) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(2_000_000), fc.integer({ min: 1, max: 3 })).map(([s, g]) => s / g) },
);
const ops = fc.array(fc.oneof({ weight: 3, arbitrary: meanLength.map((add): Op => ({ add })) }, { weight: 2, arbitrary: fc.nat().map((del): Op => ({ del })) }), {
  maxLength: 300,
});

describe.each(orderStatisticsNames)("order statistics (%s) - exact against a sorted array", (name) => {
  it("select(k) equals the k-th of a brute-force sort after every add and delete", () => {
    fc.assert(
      fc.property(ops, (sequence) => {
        const s = createOrderStatistics(name);
        const held: number[] = [];
        for (const op of sequence) {
          if ("add" in op) {
            s.add(op.add);
            held.push(op.add);
          } else if (held.length > 0) {
            const [v] = held.splice(op.del % held.length, 1);
            s.delete(v);
          }
          const sorted = held.slice().sort((a, b) => a - b);
          expect(s.size).toBe(sorted.length);
          for (let k = 1; k <= sorted.length; k++) expect(s.select(k)).toBe(sorted[k - 1]);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("refuses to delete a value it does not hold and to select outside 1..size", () => {
    const s = createOrderStatistics(name);
    s.add(3);
    expect(() => s.delete(4)).toThrow(/not held/);
    expect(() => s.select(0)).toThrow(RangeError);
    expect(() => s.select(2)).toThrow(RangeError);
    s.delete(3);
    expect(s.size).toBe(0);
  });

  it("keeps repeats apart: three 5s and two 7s", () => {
    const s = createOrderStatistics(name);
    for (const v of [7, 5, 5, 7, 5]) s.add(v);
    expect([1, 2, 3, 4, 5].map((k) => s.select(k))).toEqual([5, 5, 5, 7, 7]);
    s.delete(5);
    expect([1, 2, 3, 4].map((k) => s.select(k))).toEqual([5, 5, 7, 7]);
  });
});

describe("order statistics - lookup", () => {
  it("an unknown name lists the valid ones", () => {
    expect(() => createOrderStatistics("skiplist")).toThrow("unknown order-statistics structure 'skiplist'. Valid: fenwick, treap");
  });

  it("fenwick stays exact across bucket widening (values beyond 65536 tokens)", () => {
    const s = createOrderStatistics("fenwick");
    const vals = [1.5, 70000, 70000.125, 3, 1e6 + 1 / 3, 65535.875, 65536];
    for (const v of vals) s.add(v);
    const sorted = vals.slice().sort((a, b) => a - b);
    expect(sorted.map((_, i) => s.select(i + 1))).toEqual(sorted);
    s.delete(70000.125);
    s.delete(1.5);
    expect([1, 2, 3, 4, 5].map((k) => s.select(k))).toEqual([3, 65535.875, 65536, 70000, 1e6 + 1 / 3]);
  });
});
