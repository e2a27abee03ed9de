// The samplers' options, declared once as data. Defaults are the paper's where it has one.
import { InvalidConfigError } from "./errors.js";
import { orderStatisticsNames, type OrderStatisticsName } from "./order-stats.js";
import {
  describe,
  isBoolean,
  isFiniteNumber,
  isFraction,
  isNonNegativeInt,
  isPositiveInt,
  oneOf,
  resolveOptions,
  type OptionTable,
} from "./options.js";
import type { LengthLevels } from "./quantile.js";
import { resolveRefillConfig, type RefillConfig } from "./refill.js";

/** Options both modes share: the filter and the training batch. */
export interface FilterConfig extends LengthLevels {
  /** B: groups per training batch (one learner update). Required. */
  readonly batchSize: number;
  /** false = accuracy filter only (the base algorithm's dynamic sampling, no length rule). */
  readonly lengthFilter: boolean;
  /** false = keep all-correct / all-wrong groups too (original GRPO: no dynamic sampling). */
  readonly accuracyFilter: boolean;
  /** An all-equal group whose shared reward is > this is "all-correct" (statistics only). */
  readonly correctAbove: number;
  /** true: keep L <= Q(lLow) or Q(lHigh) <= L <= Q(lMax); false: the same with strict bounds. */
  readonly boundInclusive: boolean;
}

/** Batch mode's quantile sample: this generation batch's survivors (the paper), or every survivor of the
 *  rounds since the last emitted training batch (the accumulated one). */
export type QuantileScope = "batch" | "window";

export interface BatchSamplerConfig extends FilterConfig {
  /** Generation rounds without filling a batch before GenRoundsExceededError; 0 = no cap. */
  readonly maxGenRounds: number;
  readonly quantileScope: QuantileScope;
}

export type WindowCounts = "survivors" | "arrivals";
export type WarmupPolicy = "judge" | "accept" | "reject";
export type OverflowPolicy = "carry" | "discard";

export interface StreamSamplerConfig extends FilterConfig {
  /** W: window capacity in slots. Required. */
  readonly window: number;
  /** What a slot is: one accuracy-passing group's length, or one arrival (failed ones hold no length). */
  readonly windowCounts: WindowCounts;
  /** What happens to survivors while the window holds fewer than `warmupFill` slots. */
  readonly warmup: WarmupPolicy;
  /** Slots that end the warm-up; default W (the window is full). */
  readonly warmupFill: number;
  /** Kept groups beyond B from one offered generation batch: next batch (carry) or dropped (the paper). */
  readonly overflow: OverflowPolicy;
  readonly orderStatistics: OrderStatisticsName;
  readonly refill: RefillConfig;
}

const MAX_WINDOW = 1 << 26;

const FILTER_OPTIONS: OptionTable<FilterConfig> = {
  batchSize: { check: isPositiveInt, doc: "B, groups per training batch" },
  lLow: { default: 0.3, check: isFraction, doc: "keep L <= Q(lLow)" },
  lHigh: { default: 0.65, check: isFraction, doc: "keep Q(lHigh) <= L <= Q(lMax)" },
  lMax: { default: 0.95, check: isFraction, doc: "drop L > Q(lMax)" },
  lengthFilter: { default: true, check: isBoolean, doc: "false = accuracy filter only" },
  accuracyFilter: { default: true, check: isBoolean, doc: "false = all-equal groups survive too (no dynamic sampling)" },
  correctAbove: { default: 0, check: isFiniteNumber, doc: "reward above which an all-equal group counts as all-correct" },
  // The paper's rule reads "<=" at every bound; it does not say, so both are available (ALGORITHMS.md, open).
  boundInclusive: { default: true, check: isBoolean, doc: "true: inclusive quantile bounds; false: strict" },
};

const BATCH_OPTIONS: OptionTable<BatchSamplerConfig> = {
  ...FILTER_OPTIONS,
  // DAPO's recipe uses 10 (verl's max_num_gen_batches); 0 means no cap, as there.
  maxGenRounds: { default: 10, check: isNonNegativeInt, doc: "generation rounds per training batch before an error; 0 = no cap" },
  // The paper recomputes thresholds for every generation batch; "window" pools the rounds of one training batch.
  quantileScope: { default: "batch", check: oneOf("batch", "window"), doc: "quantiles over this generation batch's survivors, or over every round's since the last training batch" },
};

const STREAM_OPTIONS: OptionTable<Omit<StreamSamplerConfig, "refill">> = {
  ...FILTER_OPTIONS,
  // The ring is a Float64Array of W slots: 2^26 (512 MiB) is far beyond any useful window.
  window: { check: (v) => (isPositiveInt(v) === null && (v as number) <= MAX_WINDOW ? null : `an integer in 1..${MAX_WINDOW}`), doc: "W, window capacity in slots" },
  windowCounts: { default: "survivors", check: oneOf("survivors", "arrivals"), doc: "slot = surviving group's length, or one arrival" },
  warmup: { default: "judge", check: oneOf("judge", "accept", "reject"), doc: "policy while the window holds fewer than warmupFill slots" },
  warmupFill: { derive: (c) => c.window as number, check: isPositiveInt, doc: "slots that end the warm-up (default: W)" },
  overflow: { default: "carry", check: oneOf("carry", "discard"), doc: "kept groups beyond B in one offered batch" },
  orderStatistics: { default: "fenwick", check: oneOf(...orderStatisticsNames), doc: "window index structure" },
};

function checkLevels(c: FilterConfig, what: string): void {
  if (c.lHigh < c.lLow) throw new InvalidConfigError("lHigh", `${what}: option 'lHigh' (${c.lHigh}) must be >= lLow (${c.lLow})`);
  if (c.lMax < c.lHigh) throw new InvalidConfigError("lMax", `${what}: option 'lMax' (${c.lMax}) must be >= lHigh (${c.lHigh})`);
}

export function resolveBatchConfig(given: unknown): BatchSamplerConfig {
  const c = resolveOptions(BATCH_OPTIONS, given, "batch sampler");
  checkLevels(c, "batch sampler");
  return c;
}

export function resolveStreamConfig(given: unknown): StreamSamplerConfig {
  const what = "stream sampler";
  if (given !== undefined && (typeof given !== "object" || given === null || Array.isArray(given))) {
    throw new InvalidConfigError("", `${what}: options must be an object, got ${describe(given)}`);
  }
  const { refill, ...rest } = (given ?? {}) as { refill?: unknown };
  const c = resolveOptions(STREAM_OPTIONS, rest, what);
  checkLevels(c, what);
  if (c.warmupFill > c.window) {
    throw new InvalidConfigError("warmupFill", `${what}: option 'warmupFill' (${c.warmupFill}) must be <= window (${c.window})`);
  }
  return { ...c, refill: resolveRefillConfig(refill, c.batchSize, `${what}: refill`) };
}
