// Shared test helpers: a seeded PRNG and a LossInput builder from per-token log-ratios.
import type { LossInput } from "../src/index.js";

/** mulberry32: small, seeded, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** logp_old = -1 everywhere, logp = -1 + logRatio: the ratio of token t is exp(logRatio[t]). */
export function inputFromLogRatios(logRatios: number[][], advantages: number[], extra: Partial<LossInput> = {}): LossInput {
  return {
    logp: logRatios.map((row) => row.map((d) => -1 + d)),
    logpOld: logRatios.map((row) => row.map(() => -1)),
    logpRef: null,
    entropy: null,
    mask: logRatios.map((row) => row.map(() => 1)),
    advantages,
    ...extra,
  };
}

/** Expects two ragged arrays to agree to `digits` decimal places, entry by entry. */
export function closeRows(actual: number[][], expected: number[][], digits = 12): void {
  if (actual.length !== expected.length) throw new Error(`rows: ${actual.length} vs ${expected.length}`);
  actual.forEach((row, i) => {
    if (row.length !== expected[i].length) throw new Error(`row ${i}: ${row.length} vs ${expected[i].length}`);
    row.forEach((v, t) => {
      const tol = 0.5 * 10 ** -digits;
      if (!(Math.abs(v - expected[i][t]) <= tol)) throw new Error(`[${i}][${t}]: got ${v}, expected ${expected[i][t]}`);
    });
  });
}
