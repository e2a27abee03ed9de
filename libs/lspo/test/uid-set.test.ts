import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UidSet } from "@lspo/lspo";

describe("uid set - agrees with a built-in Set", () => {
  it("add reports new uids, has finds them, values keep first-seen order, across growth", () => {
    const uid = fc.oneof(fc.string({ maxLength: 6 }), fc.nat(3000).map((n) => `prompt-${n}@0`), fc.string({ unit: "grapheme", maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(uid, { maxLength: 3000 }), fc.array(uid, { maxLength: 50 }), (adds, probes) => {
        const mine = new UidSet();
        const ref = new Set<string>();
        for (const u of adds) {
          expect(mine.add(u)).toBe(!ref.has(u));
          ref.add(u);
        }
        expect(mine.size).toBe(ref.size);
        expect(mine.values()).toEqual([...ref]);
        for (const u of [...probes, ...adds.slice(0, 50)]) expect(mine.has(u)).toBe(ref.has(u));
      }),
      { numRuns: 60 },
    );
  });

  it("handles the empty string and strings differing in one code unit", () => {
    const s = new UidSet(["", "a", "b"]);
    expect([s.add(""), s.add("a"), s.add("\u0061"), s.add("c"), s.has("d"), s.size]).toEqual([false, false, false, true, false, 4]);
  });
});
