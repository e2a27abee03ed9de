// A decimal written for an exact value: `0.0833333333333333` for 1/12, `3.1416` for a rational close to
// it. Accepted only when the decimal IS the exact value rounded (or truncated) to the digits shown, and
// those digits are precise enough: one unit in the last place at most `relative` times the value.
// Decided in exact rational arithmetic; the float is only the stated tolerance. So `0.333` is not 1/3
// (1e-3 is too coarse for 1e-6), `0.3333333` is, and `0.30000000000000004` is never 0.3 (0.3 rounded to
// 17 places is 0.30000000000000000).

import { type Rational, powerOfTen, rational } from "./rational.js";

/** The default relative precision a decimal must carry to stand for an exact value. */
export const DEFAULT_FLOAT_TOLERANCE = 1e-6;

const PLAIN_DECIMAL = /^[+-]?\d*\.(\d+)$/;

function abs(x: Rational): Rational {
  return x.num < 0n ? { num: -x.num, den: x.den } : x;
}

/** a < b for rationals with positive denominators. */
function less(a: Rational, b: Rational): boolean {
  return a.num * b.den < b.num * a.den;
}

/** The tolerance as an exact rational (`1e-6` is 1/1000000), or undefined when it is not a number >= 0. */
function toRational(x: number): Rational | undefined {
  if (!Number.isFinite(x) || x < 0) return undefined;
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(x.toString());
  if (!m) return undefined;
  const digits = BigInt(m[1] + (m[2] ?? ""));
  const e = Number(m[3] ?? 0) - (m[2]?.length ?? 0);
  const p = powerOfTen(e);
  return rational(digits * p.num, p.den);
}

/**
 * Is `text` (a decimal, as written) an acceptable rounding of `exact`? `value` is the decimal's own
 * exact value. False for anything that is not a plain decimal with a point.
 */
export function roundsTo(text: string, value: Rational, exact: Rational, relative: number): boolean {
  const m = PLAIN_DECIMAL.exec(text);
  const tol = toRational(relative);
  if (!m || !tol || tol.num === 0n || exact.num === 0n) return false;
  const ulp = powerOfTen(-m[1].length);
  // Precise enough: ulp <= tol * |exact|.
  const bound = abs(rational(tol.num * exact.num, tol.den * exact.den)!);
  if (less(bound, ulp)) return false;
  const diff = rational(value.num * exact.den - exact.num * value.den, value.den * exact.den)!;
  const half = { num: ulp.num, den: ulp.den * 2n };
  if (!less(half, abs(diff))) return true; // rounded: |value - exact| <= ulp/2
  // Truncated: the decimal lies between 0 and the exact value, within one ulp of it.
  const sameSide = (value.num >= 0n) === (exact.num >= 0n) && less(abs(value), abs(exact));
  return sameSide && less(abs(diff), ulp);
}
