// fast-check generators shared by the property tests.
import fc from "fast-check";
import type { Group } from "@lspo/lspo";

/** Ordered levels lLow <= lHigh <= lMax in [0, 1]. */
export const levelsArb = fc
  .array(fc.integer({ min: 0, max: 100 }), { minLength: 3, maxLength: 3 })
  .map((xs) => xs.sort((a, b) => a - b).map((x) => x / 100))
  .map(([lLow, lHigh, lMax]) => ({ lLow, lHigh, lMax }));

/** One group with small integer lengths (many tied means) and a 1/3 chance of failing the accuracy filter. */
export const groupBodyArb = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.constantFrom("mixed", "mixed", "mixed", "all-correct", "all-wrong"))
  .chain(([G, kind]) =>
    fc.record({
      lengths: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: G, maxLength: G }),
      rewards: kind === "mixed" && G > 1 ? fc.constant([1, ...Array<number>(G - 1).fill(0)]) : fc.constant(Array<number>(G).fill(kind === "all-correct" ? 1 : 0)),
    }),
  );

/** A stream of groups whose uids repeat now and then (redeliveries). */
export function streamArb(maxLength: number): fc.Arbitrary<Group[]> {
  return fc.array(fc.tuple(groupBodyArb, fc.integer({ min: 0, max: 9 }), fc.nat()), { maxLength }).map((items) =>
    items.map(([body, dupRoll, pick], i) => ({ uid: dupRoll === 0 && i > 0 ? `u${pick % i}` : `u${i}`, ...body })),
  );
}
