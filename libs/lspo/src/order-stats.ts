// Order-statistics multisets: the streaming window's index. Two exact implementations behind one
// interface, chosen by name (bench/sampler.ts compares them; `fenwick` is the default because it is faster).
import { FenwickMultiset } from "./fenwick-multiset.js";
import { InvalidConfigError } from "./errors.js";
import { TreapMultiset } from "./treap-multiset.js";

/** A multiset of non-negative finite numbers. */
export interface OrderStatistics {
  /** Number of values held, counting repeats. */
  readonly size: number;
  add(v: number): void;
  /** Removes one copy of v; throws if v is not held (a window bookkeeping bug, never user input). */
  delete(v: number): void;
  /** The k-th smallest value, 1 <= k <= size. */
  select(k: number): number;
  /** Bytes of typed storage held now (for the benchmark's memory-per-entry figure). */
  byteSize(): number;
}

const ORDER_STATISTICS = {
  /** Fenwick tree over integer buckets of width 2^s (s = 0 below 65536 tokens) + exact sorted values per bucket. */
  fenwick: (): OrderStatistics => new FenwickMultiset(),
  /** Treap keyed by distinct value with counts and subtree sizes, in typed arrays. */
  treap: (): OrderStatistics => new TreapMultiset(),
} as const satisfies Record<string, () => OrderStatistics>;

export type OrderStatisticsName = keyof typeof ORDER_STATISTICS;
export const orderStatisticsNames = Object.keys(ORDER_STATISTICS) as OrderStatisticsName[];

export function createOrderStatistics(name: string): OrderStatistics {
  const make = (ORDER_STATISTICS as Record<string, () => OrderStatistics>)[name];
  if (!make) {
    throw new InvalidConfigError("orderStatistics", `unknown order-statistics structure '${name}'. Valid: ${orderStatisticsNames.join(", ")}`);
  }
  return make();
}
