// How the docs write numbers, so that a view renders a figure exactly as its table shows it. Each helper
// names one habit of docs/*.md: fixed decimals, grouped thousands, "median (min–max)", percentages.

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs?: number[];
}

/** `x` with `digits` decimals. */
export const fixed = (x: number, digits: number): string => x.toFixed(digits);

/** `x` rounded to an integer, thousands grouped by `sep` ("1,004" or "1 433"). */
export function grouped(x: number, sep = ","): string {
  return Math.round(x).toString().replace(/\B(?=(\d{3})+(?!\d))/g, sep);
}

/** "median (min–max)", each part written by `f`. */
export const spread = (s: Spread, f: (x: number) => string): string => `${f(s.median)} (${f(s.min)}–${f(s.max)})`;

/** A fraction as a percentage: 0.4231 -> "42.3%". */
export const pct = (x: number, digits = 1): string => `${(x * 100).toFixed(digits)}%`;

/** A rate in millions: 852069 -> "0.85M/s". */
export const millionsPerS = (x: number): string => `${(x / 1e6).toFixed(2)}M/s`;

/** A ratio as the docs write it: 2.6 -> "2.6x". */
export const times = (x: number, digits: number): string => `${x.toFixed(digits)}x`;

/** Median of `xs` (the mean of the two middle values for an even count), as bench/lib/stats.ts computes it. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median, min and max of `xs`. */
export function spreadOf(xs: readonly number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: [...xs] };
}
