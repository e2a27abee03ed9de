// Exact rational numbers over BigInt: the verifier compares numeric answers exactly, never through
// floating point, so "0.1+0.2"-style rounding can neither make a wrong answer right nor a right one wrong.

export interface Rational {
  readonly num: bigint;
  readonly den: bigint; // always > 0
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** num/den in lowest terms with a positive denominator; undefined when den is 0 (division by zero). */
export function rational(num: bigint, den: bigint = 1n): Rational | undefined {
  if (den === 0n) return undefined;
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

export function rationalEquals(a: Rational, b: Rational): boolean {
  return a.num * b.den === b.num * a.den;
}

export function negate(a: Rational): Rational {
  return { num: -a.num, den: a.den };
}

export function divide(a: Rational, b: Rational): Rational | undefined {
  return rational(a.num * b.den, a.den * b.num);
}

export function multiply(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den) as Rational; // dens are non-zero, so is their product
}

/** 10^k as a rational, for any integer k (negative k gives 1/10^|k|). */
export function powerOfTen(k: number): Rational {
  const p = 10n ** BigInt(Math.abs(k));
  return k >= 0 ? { num: p, den: 1n } : { num: 1n, den: p };
}

export function rationalToString(a: Rational): string {
  return a.den === 1n ? a.num.toString() : `${a.num}/${a.den}`;
}
