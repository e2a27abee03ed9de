// Reads a canonical answer (see normalize.ts) as an exact number when it is one: integers of any size,
// decimals, scientific notation, `a/b`, `\frac{a}{b}` (arguments may themselves be numbers of these
// forms), mixed numbers `2\frac{1}{2}` and `a\times10^{n}`. Anything else is "other" and goes to the
// structural/symbolic comparison.

import { type Rational, divide, multiply, negate, powerOfTen, rational } from "./rational.js";
import { readArgument } from "./latex.js";

export type ParsedNumber =
  | { kind: "number"; value: Rational }
  | { kind: "invalid"; reason: string }
  | { kind: "other" };

/** Bigger exponents are not numbers anyone means as an answer; refusing them keeps 10^k cheap. */
export const MAX_DECIMAL_EXPONENT = 1000;

const OTHER: ParsedNumber = { kind: "other" };
const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i;
const SCALED = /^(.+?)\\(?:times|cdot)10\^(?:\{([+-]?\d+)\}|(\d))$/;

function decimal(s: string): ParsedNumber {
  const m = DECIMAL.exec(s);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return OTHER;
  const [, sign, whole, frac = "", exp] = m;
  const e = exp === undefined ? 0 : Number(exp);
  if (!Number.isSafeInteger(e) || Math.abs(e) > MAX_DECIMAL_EXPONENT) return OTHER;
  const digits = BigInt((whole || "0") + frac);
  const value = multiply(rational(sign === "-" ? -digits : digits, 1n) as Rational, powerOfTen(e - frac.length));
  return { kind: "number", value };
}

function ratio(a: ParsedNumber, b: ParsedNumber): ParsedNumber {
  if (a.kind !== "number") return a;
  if (b.kind !== "number") return b;
  const q = divide(a.value, b.value);
  return q ? { kind: "number", value: q } : { kind: "invalid", reason: "division by zero" };
}

function frac(s: string, depth: number): ParsedNumber {
  const sign = s.startsWith("-") ? -1 : 1;
  const body = s.replace(/^[+-]/, "");
  if (!body.startsWith("\\frac{")) return OTHER;
  const num = readArgument(body, 5);
  const den = num && readArgument(body, num.end);
  if (!num || !den || den.end !== body.length) return OTHER;
  const q = ratio(parseNumber(num.text, depth + 1), parseNumber(den.text, depth + 1));
  return q.kind === "number" && sign < 0 ? { kind: "number", value: negate(q.value) } : q;
}

function slash(s: string, depth: number): ParsedNumber {
  const parts = s.split("/");
  if (parts.length !== 2) return OTHER;
  return ratio(parseNumber(parts[0], depth + 1), parseNumber(parts[1], depth + 1));
}

function scaled(s: string, depth: number): ParsedNumber {
  const m = SCALED.exec(s);
  if (!m) return OTHER;
  const e = Number(m[2] ?? m[3]);
  if (Math.abs(e) > MAX_DECIMAL_EXPONENT) return OTHER;
  const mantissa = parseNumber(m[1], depth + 1);
  return mantissa.kind === "number" ? { kind: "number", value: multiply(mantissa.value, powerOfTen(e)) } : OTHER;
}

/**
 * A mixed number, `2\frac{1}{2}` = 5/2 (the sign covers both parts: `-2\frac12` = -5/2). Read here so
 * that the CAS never sees it: it would take the juxtaposition as a product, 2 * 1/2 = 1.
 */
function mixed(s: string, depth: number): ParsedNumber {
  const m = /^([+-]?)(\d+)(\\frac\{\d+\}\{\d+\})$/.exec(s);
  if (!m) return OTHER;
  const part = frac(m[3], depth + 1);
  if (part.kind !== "number") return part;
  const whole = rational(BigInt(m[2])) as Rational;
  const value = rational(whole.num * part.value.den + part.value.num, part.value.den) as Rational;
  return { kind: "number", value: m[1] === "-" ? negate(value) : value };
}

/**
 * Two digits with only a space between them (normalize.ts keeps that one space): `4 4/9` is the mixed
 * number 40/9 (a proper fraction after a whole number); anything else, `2 3` or `32 349`, is two
 * numbers, refused rather than read as 23 or 32349.
 */
function spaced(s: string, depth: number): ParsedNumber {
  if (!/\d \d/.test(s)) return OTHER;
  const m = /^([+-]?)(\d+) (\d+)\/(\d+)$/.exec(s);
  if (m && BigInt(m[3]) < BigInt(m[4])) return mixed(`${m[1]}${m[2]}\\frac{${m[3]}}{${m[4]}}`, depth);
  return { kind: "invalid", reason: `numbers separated only by a space ('${s.slice(0, 40)}'): not one number` };
}

/** Tries each form in turn; the first that is not "other" decides. */
export function parseNumber(s: string, depth = 0): ParsedNumber {
  if (depth > 4 || s === "") return OTHER;
  for (const form of [spaced, decimal, frac, mixed, slash, scaled]) {
    const r = form(s, depth);
    if (r.kind !== "other") return r;
  }
  return OTHER;
}

/** A division by a literal zero anywhere in an answer (`\frac{x}{0}`, `3/0`): such an answer is never correct. */
export function dividesByZero(s: string): boolean {
  return /\\frac\{[^{}]*\}\{[+-]?0+(?:\.0*)?\}|\/[+-]?0+(?:\.0*)?(?![\d.])/.test(s);
}
