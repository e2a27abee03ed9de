// The LSPO length rule: lower empirical quantiles and the keep/reject decision, shared by both modes.

/**
 * 1-based rank of Q(a) = inf{ x : F(x) >= a } (numpy's `inverted_cdf`) in a sample of n values:
 * k = max(1, ceil(a * n)), with a * n the floating-point product exactly as numpy computes it
 * (so a = 0.65, n = 20 gives the 13th value, as `np.quantile(x, 0.65, method="inverted_cdf")` does).
 */
export function quantileRank(a: number, n: number): number {
  const k = Math.ceil(a * n);
  return k < 1 ? 1 : k;
}

/** Q(a) of an ascending array (batch mode's reference implementation: one sort per generation batch). */
export function quantileOfSorted(sorted: ArrayLike<number>, a: number): number {
  if (sorted.length === 0) throw new RangeError("quantile of an empty sample");
  return sorted[quantileRank(a, sorted.length) - 1];
}

/** The quantile levels of the rule; defaults are the paper's. */
export interface LengthLevels {
  /** Keep L <= Q(lLow): the shortest prompts. Default 0.30. */
  readonly lLow: number;
  /** Keep Q(lHigh) <= L <= Q(lMax): the long band. Default 0.65. */
  readonly lHigh: number;
  /** Drop L > Q(lMax): the longest prompts, mostly truncated responses. Default 0.95. */
  readonly lMax: number;
}

/** Quantile values (in tokens) a group was judged against, and how many lengths they were taken over. */
export interface Thresholds {
  readonly low: number;
  readonly high: number;
  readonly max: number;
  readonly windowFill: number;
}

/** Why a surviving group is kept or dropped by its length. */
export type LengthVerdict = "short" | "middle-length" | "long" | "too-long";

/**
 * Keep iff L <= Q(lLow) or Q(lHigh) <= L <= Q(lMax), bounds inclusive (the default); with `inclusive`
 * false (sampler option boundInclusive, the paper leaves it open) strictly: L < Q(lLow) or
 * Q(lHigh) < L < Q(lMax). Since lLow <= lHigh <= lMax the quantiles are ordered, so the tests below
 * partition the line in that order. `Q` is called only as far as the answer needs (the streaming window
 * computes quantiles lazily); both modes use this one function.
 */
export function judgeLength(L: number, levels: LengthLevels, Q: (a: number) => number, inclusive = true): LengthVerdict {
  if (inclusive ? L <= Q(levels.lLow) : L < Q(levels.lLow)) return "short";
  if (inclusive ? L < Q(levels.lHigh) : L <= Q(levels.lHigh)) return "middle-length";
  if (inclusive ? L <= Q(levels.lMax) : L < Q(levels.lMax)) return "long";
  return "too-long";
}

/** Thresholds of an ascending sample. */
export function thresholdsOfSorted(sorted: ArrayLike<number>, levels: LengthLevels): Thresholds {
  return {
    low: quantileOfSorted(sorted, levels.lLow),
    high: quantileOfSorted(sorted, levels.lHigh),
    max: quantileOfSorted(sorted, levels.lMax),
    windowFill: sorted.length,
  };
}
