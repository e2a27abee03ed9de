// exp(x) for the sampler's weight pass, within one ulp of Math.exp. V8's Math.exp is a call out of the optimized
// code for every element; this one is a table lookup and a short polynomial that the JIT inlines into the loop,
// which took the weight pass of a 152k-token row from about 1.7 to 1.0 ms here (ad hoc; docs/BENCHMARKS.md
// "Token sampling" measures the sampler as a whole).
//
// exp(x) = 2^k * 2^(j/128) * exp(r), where n = round(x * 128 / ln 2) = 128 k + j and r = x - n ln2 / 128,
// so |r| <= ln2 / 256. 2^(j/128) comes from a table of correctly rounded values and 2^k from a table of powers
// of two, both exact to build; exp(r) - 1 is a degree-5 Taylor polynomial, whose truncation error
// (|r|^6 / 720 < 6e-19, relative) is far below half an ulp. r is reduced with ln 2 split in two (a high part with few
// enough bits that n times it is exact), as every careful exp does: with ln 2 as one double, r would carry
// n times its rounding error, hundreds of ulps at x = -700.
//
// Outside [-708, 709] (results subnormal, zero or infinite), for NaN and for the infinities it defers to
// Math.exp: those are rare in a row of logits, and this keeps the tables to the normal range.

const TABLE_BITS = 7;
const TABLE_SIZE = 1 << TABLE_BITS;
const LOW = -708; // exp(-708) = 3.3e-308, above the smallest normal double (2.2e-308)
const HIGH = 709; // exp(709) = 8.2e307, below the largest
const MIN_K = -1022;
const MAX_K = 1023;

/** Fixed-point precision of the table computations: far more than the 53 bits each entry keeps. */
const FRACTION_BITS = 256n;
const FIXED_ONE = 1n << FRACTION_BITS;

/** floor(sqrt(n)) for a non-negative BigInt, by Newton's iteration. */
function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** A fixed-point value as the nearest double (Number(bigint) rounds to nearest; the division by 2^256 is exact). */
const toDouble = (fixed: bigint): number => Number(fixed) / 2 ** Number(FRACTION_BITS);

/** ln 2 in fixed point: the sum of 1 / (i 2^i) over i >= 1, whose terms fall by half at least each step. */
function ln2Fixed(): bigint {
  let sum = 0n;
  for (let i = 1n; i <= FRACTION_BITS + 8n; i++) sum += FIXED_ONE / (i << i);
  return sum;
}

/** 2^(j / 128) for j in [0, 128), each correctly rounded: products of the square-root chain 2^(1/2), 2^(1/4), ... */
function fractionPowers(): Float64Array {
  const roots: bigint[] = []; // roots[b] = 2^(2^b / 128) in fixed point
  let root = 2n * FIXED_ONE;
  for (let b = TABLE_BITS - 1; b >= 0; b--) {
    root = isqrt(root << FRACTION_BITS);
    roots[b] = root;
  }
  return Float64Array.from({ length: TABLE_SIZE }, (_, j) => {
    let v = FIXED_ONE;
    for (let b = 0; b < TABLE_BITS; b++) if ((j >> b) & 1) v = (v * roots[b]) >> FRACTION_BITS;
    return toDouble(v);
  });
}

/** 2^k for k in [MIN_K, MAX_K], by doubling and halving (exact in the normal range). */
function twoPowers(): Float64Array {
  const p = new Float64Array(MAX_K - MIN_K + 1);
  p[-MIN_K] = 1;
  for (let i = -MIN_K + 1; i < p.length; i++) p[i] = p[i - 1] * 2;
  for (let i = -MIN_K - 1; i >= 0; i--) p[i] = p[i + 1] / 2;
  return p;
}

const FRACTION_POWERS = fractionPowers();
const TWO_POWERS = twoPowers();
const LN2 = ln2Fixed();
/** ln 2 / 128 in two parts: the high one keeps 32 significant bits, so n * LN2_HI is exact for |n| < 2^21. */
const LN2_HI_FIXED = (LN2 >> (FRACTION_BITS - 32n)) << (FRACTION_BITS - 32n);
const LN2_HI = toDouble(LN2_HI_FIXED) / TABLE_SIZE;
const LN2_LO = toDouble(LN2 - LN2_HI_FIXED) / TABLE_SIZE;
const STEPS_PER_NAT = TABLE_SIZE / toDouble(LN2);
/** Adding then subtracting 1.5 * 2^52 rounds a double of magnitude below 2^51 to the nearest integer. */
const ROUNDER = 6755399441055744;

/** e^x, within one ulp of Math.exp (the same value for most x; exactly Math.exp's outside [-708, 709]). */
export function exp(x: number): number {
  if (!(x >= LOW && x <= HIGH)) return Math.exp(x);
  const n = x * STEPS_PER_NAT + ROUNDER - ROUNDER;
  const steps = n | 0;
  const r = x - n * LN2_HI - n * LN2_LO;
  // Estrin's scheme rather than Horner's: a shorter chain of dependent operations lets the CPU overlap more
  // elements of a row (about 15% faster on this pass).
  const r2 = r * r;
  const expm1 = r + r2 * (1 / 2 + r * (1 / 6)) + r2 * r2 * (1 / 24 + r * (1 / 120));
  const fraction = FRACTION_POWERS[steps & (TABLE_SIZE - 1)];
  return (fraction + fraction * expm1) * TWO_POWERS[(steps >> TABLE_BITS) - MIN_K];
}

/** The tables, for tests. */
export const expTables = { FRACTION_POWERS, LN2_HI, LN2_LO, STEPS_PER_NAT };
