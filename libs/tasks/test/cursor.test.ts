// The shuffled cursor: each epoch is a permutation, epochs differ, seeds differ, and a restored
// checkpoint continues with exactly the indices of the uninterrupted cursor.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CursorStateError, ShuffledCursor, epochPermutation } from "@lspo/tasks";

describe("cursor", () => {
  it("visits every index exactly once per epoch", () => {
    const c = new ShuffledCursor(100, 7);
    for (let epoch = 0; epoch < 3; epoch++) {
      expect(c.epoch).toBe(epoch);
      expect(c.take(100).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
  });

  it("shuffles differently per epoch and per seed, identically for the same (seed, epoch)", () => {
    const a = Array.from(epochPermutation(50, 1, 0));
    expect(Array.from(epochPermutation(50, 1, 0))).toEqual(a);
    expect(Array.from(epochPermutation(50, 1, 1))).not.toEqual(a);
    expect(Array.from(epochPermutation(50, 2, 0))).not.toEqual(a);
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("is close to uniform: each of 3! orders of 3 items appears about equally over seeds", () => {
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 6000; seed++) {
      const key = Array.from(epochPermutation(3, seed, 0)).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // Expected 1000 each; 5 standard deviations (~ 5 * 29) is far outside chance.
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });

  it("resumes exactly from a checkpoint taken anywhere, including across epoch boundaries (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.nat({ max: 120 }), fc.nat({ max: 120 }), (size, seed, before, after) => {
        const straight = new ShuffledCursor(size, seed);
        const expected = straight.take(before + after).slice(before);
        const first = new ShuffledCursor(size, seed);
        first.take(before);
        const saved = JSON.parse(JSON.stringify(first.state()));
        const resumed = ShuffledCursor.restore(saved, size);
        expect(resumed.take(after)).toEqual(expected);
        expect(resumed.state()).toEqual(straight.state());
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it("state is a plain object of four integers", () => {
    const c = new ShuffledCursor(5, 3);
    c.take(7);
    expect(c.state()).toEqual({ size: 5, seed: 3, epoch: 1, position: 2 });
  });

  it("refuses bad states and a checkpoint for another dataset size", () => {
    expect(() => ShuffledCursor.restore({ size: 10, seed: 1, epoch: 0, position: 0 }, 11)).toThrow(
      "the checkpointed cursor covers 10 items but the dataset has 11",
    );
    expect(() => ShuffledCursor.restore({ size: 10, seed: 1, epoch: 0, position: 10 })).toThrow("position must be an integer in [0, size) (got 10)");
    expect(() => ShuffledCursor.restore({ size: 10, seed: 1.5, epoch: -1, position: 0 })).toThrow(
      "invalid cursor state: seed must be an integer in [0, 2^32) (got 1.5); epoch must be an integer >= 0 (got -1)",
    );
    expect(() => ShuffledCursor.restore({ size: 10, seed: 1, epoch: 0, position: 0, extra: 1 } as never)).toThrow("unknown key(s) extra");
    expect(() => ShuffledCursor.restore(null as never)).toThrow(CursorStateError);
    expect(() => new ShuffledCursor(0, 1)).toThrow("size must be a positive integer (got 0)");
    expect(() => new ShuffledCursor(3, 1).take(-1)).toThrow("take(n) needs an integer n >= 0, got -1");
  });
});
