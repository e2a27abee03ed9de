// The refill controller: how many more prompts to request so that the batch being filled completes
// before the learner asks for it, given the acceptance rate measured so far and a bound on prompts in
// flight. Pure arithmetic on its inputs; the caller says what is pending and what is in flight.
import { isFiniteNumber, isPositiveInt, resolveOptions, type OptionTable } from "./options.js";

export interface RefillConfig {
  /** p0, the acceptance (accuracy x length filter) assumed before any observation. */
  readonly prior: number;
  /** How many observations the prior is worth. */
  readonly priorWeight: number;
  /** Horizon of the moving average in observations: each one decays the past by 1 - 1/memory. */
  readonly memory: number;
  /** One-sided normal quantile: request enough that the batch fills with this confidence (0 = on average). */
  readonly z: number;
  /** Training batches to keep filling: 1 = the one pending now; 2 also the next (pipelined rollouts). */
  readonly ahead: number;
  /** Bound on prompts requested but not yet offered back (bounds staleness and rollout queueing). */
  readonly maxInFlight: number;
}

const isRate = (v: unknown): string | null => (typeof v === "number" && v > 0 && v <= 1 ? null : "a number in (0, 1]");
const isPositive = (v: unknown): string | null => (typeof v === "number" && Number.isFinite(v) && v > 0 ? null : "a positive number");
const isAtLeastOne = (v: unknown): string | null => (typeof v === "number" && Number.isFinite(v) && v >= 1 ? null : "a number >= 1");

const REFILL_OPTIONS: OptionTable<Omit<RefillConfig, "maxInFlight">> = {
  // Accuracy filtering passes roughly half of the prompts early in training and LSPO keeps about 60% of
  // those (0.30 + 0.95 - 0.65), hence 0.3. It only matters until ~priorWeight groups have been seen.
  prior: { default: 0.3, check: isRate, doc: "acceptance assumed before any observation" },
  priorWeight: { default: 32, check: isPositive, doc: "observations the prior is worth" },
  memory: { default: 2048, check: isAtLeastOne, doc: "moving-average horizon in observed groups" },
  z: { default: 1.645, check: (v) => (isFiniteNumber(v) === null && (v as number) >= 0 ? null : "a number >= 0"), doc: "confidence quantile (1.645 = 95%)" },
  ahead: { default: 1, check: isPositiveInt, doc: "training batches kept filling" },
};

export function resolveRefillConfig(given: unknown, batchSize: number, what: string): RefillConfig {
  const table: OptionTable<RefillConfig> = {
    ...REFILL_OPTIONS,
    // Four batches in flight: enough to ride out a 25% acceptance rate without letting rollouts run far ahead.
    maxInFlight: { derive: () => 4 * batchSize, check: isPositiveInt, doc: "bound on prompts in flight (default 4 x batchSize)" },
  };
  return resolveOptions(table, given, what);
}

/**
 * Smallest n with n*p - z*sqrt(n*p*(1-p)) >= need: prompts whose accepted count reaches `need` with
 * confidence z under a normal approximation of Binomial(n, p). Solved in s = sqrt(n), then nudged so
 * the inequality, evaluated exactly as written, holds at n and fails at n - 1.
 */
export function promptsNeeded(need: number, p: number, z: number): number {
  if (need <= 0) return 0;
  const sd = Math.sqrt(p * (1 - p));
  const enough = (n: number): boolean => n * p - z * Math.sqrt(n * p * (1 - p)) >= need;
  const s = (z * sd + Math.sqrt(z * z * sd * sd + 4 * p * need)) / (2 * p);
  let n = Math.max(need, Math.ceil(s * s)); // accepted <= offered, so n >= need
  while (!enough(n)) n++;
  while (n > need && enough(n - 1)) n--;
  return n;
}

/** The moving average's state: decayed sums of kept (0/1) and of observations. Plain, for snapshots. */
export interface RefillState {
  readonly kept: number;
  readonly seen: number;
}

export class RefillController {
  private kept: number;
  private seen: number;
  private readonly decay: number;

  constructor(
    readonly config: RefillConfig,
    readonly batchSize: number,
    state: RefillState = { kept: 0, seen: 0 },
  ) {
    this.kept = state.kept;
    this.seen = state.seen;
    this.decay = 1 - 1 / config.memory;
  }

  /** One offered group's fate: kept by the filters or not (duplicates are not observations). */
  observe(kept: boolean): void {
    this.kept = this.kept * this.decay + (kept ? 1 : 0);
    this.seen = this.seen * this.decay + 1;
  }

  /** Smoothed acceptance: (decayed kept + w * p0) / (decayed seen + w). Always in (0, 1]. */
  get rate(): number {
    const { prior, priorWeight } = this.config;
    return (this.kept + priorWeight * prior) / (this.seen + priorWeight);
  }

  /**
   * Prompts to request now. need = ahead*B - pending groups are still to be accepted; the prompts in
   * flight count toward them; the answer never takes the in-flight count above maxInFlight.
   */
  request(pending: number, inFlight: number): number {
    if (!Number.isSafeInteger(pending) || pending < 0) throw new RangeError(`refill: pending must be a non-negative integer, got ${pending}`);
    if (!Number.isSafeInteger(inFlight) || inFlight < 0) throw new RangeError(`refill: inFlight must be a non-negative integer, got ${inFlight}`);
    const need = this.config.ahead * this.batchSize - pending;
    const want = promptsNeeded(need, this.rate, this.config.z) - inFlight;
    const room = this.config.maxInFlight - inFlight;
    return Math.max(0, Math.min(want, room));
  }

  state(): RefillState {
    return { kept: this.kept, seen: this.seen };
  }
}
