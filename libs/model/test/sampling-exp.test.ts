// The sampler's exp against Math.exp: within one ulp over the whole range a row of logits reaches, Math.exp's
// own value at the edges, and tables that are what they claim (2^(j/128) correctly rounded, ln 2 split exactly).
import { describe, expect, it } from "vitest";
import { exp, expTables } from "../src/sampling/exp.js";
import { createRng } from "../src/sampling/rng.js";

const bits = new Float64Array(2);
const words = new BigInt64Array(bits.buffer);
/** How many representable doubles apart a and b are (both finite, same sign). */
function ulpsApart(a: number, b: number): number {
  bits[0] = a;
  bits[1] = b;
  return Math.abs(Number(words[0] - words[1]));
}

describe("sampling exp", () => {
  it("is within one ulp of Math.exp on [-708, 709], and equal to it for most arguments", () => {
    const rng = createRng(11);
    let same = 0, n = 0, worst = 0;
    for (const [lo, hi] of [[-708, 709], [-40, 0], [-1, 1], [-1e-6, 1e-6]]) {
      for (let i = 0; i < 200_000; i++) {
        const x = lo + (hi - lo) * rng.float();
        const d = ulpsApart(exp(x), Math.exp(x));
        worst = Math.max(worst, d);
        same += d === 0 ? 1 : 0;
        n++;
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
    expect(same / n).toBeGreaterThan(0.75);
  });

  it("is exact at 0 and within one ulp where r is largest: next to each rounding boundary of x * 128 / ln 2", () => {
    expect(exp(0)).toBe(1);
    expect(exp(-0)).toBe(1);
    for (let n = -130_000; n < 130_000; n += 997) {
      const x = ((n + 0.5) * Math.LN2) / 128;
      for (const y of [x * (1 - 2 ** -50), x, x * (1 + 2 ** -50)]) expect(ulpsApart(exp(y), Math.exp(y)), `x = ${y}`).toBeLessThanOrEqual(1);
    }
  });

  it("hands the edges to Math.exp: subnormal results, 0, Infinity and NaN", () => {
    for (const x of [-708.0000001, -709, -745.1, -745.2, -746, -1e308, -Infinity, 709.0000001, 709.7, 710, 1e308, Infinity]) {
      expect(Object.is(exp(x), Math.exp(x)), `x = ${x}`).toBe(true);
    }
    expect(exp(NaN)).toBeNaN();
    // just inside the range both ends are normal doubles
    expect(ulpsApart(exp(-708), Math.exp(-708))).toBeLessThanOrEqual(1);
    expect(ulpsApart(exp(709), Math.exp(709))).toBeLessThanOrEqual(1);
  });

  it("never decreases as x grows, across table boundaries", () => {
    // monotonicity keeps ties and order of the weights as exp's: tokens of equal logits weigh the same,
    // and a larger logit never weighs less
    for (let n = -90_000; n < 1000; n += 37) {
      let x = ((n + 0.5) * Math.LN2) / 128 - 1e-12;
      let prev = exp(x);
      for (let i = 0; i < 40; i++) {
        x += 1e-13;
        const e = exp(x);
        expect(e >= prev, `x = ${x}`).toBe(true);
        prev = e;
      }
    }
  });

  it("builds its tables exactly: 2^(j/128) correctly rounded, ln 2 in a high part of 32 bits and a low part", () => {
    const { FRACTION_POWERS, LN2_HI, LN2_LO } = expTables;
    expect(FRACTION_POWERS).toHaveLength(128);
    expect(FRACTION_POWERS[0]).toBe(1);
    expect(FRACTION_POWERS[64]).toBe(Math.SQRT2); // Math.SQRT2 is sqrt(2) correctly rounded
    // correctly rounded: with entry t = m / 2^52 (m a 53-bit integer, t in [1, 2)), 2^(j/128) lies within half
    // an ulp of t exactly when (2m - 1)^128 < 2^(j + 128 + 52 * 128) < (2m + 1)^128, in exact integers
    for (let j = 0; j < 128; j++) {
      const m = BigInt(FRACTION_POWERS[j] * 2 ** 52);
      const power = 1n << BigInt(j + 128 + 52 * 128);
      expect((2n * m - 1n) ** 128n < power && power < (2n * m + 1n) ** 128n, `j = ${j}`).toBe(true);
    }
    // ln 2 split as fdlibm splits it: published halves of ln 2 (ln2_hi = 0x3fe62e42fee00000, ln2_lo = 0x3dea39ef35793c76)
    expect(LN2_HI * 128).toBe(6.93147180369123816490e-1);
    expect(LN2_LO * 128).toBe(1.90821492927058770002e-10);
    expect(LN2_HI * 128 + LN2_LO * 128).toBe(Math.LN2);
  });
});
