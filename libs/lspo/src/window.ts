// The streaming sampler's sliding window: a ring of the last W slots, each holding a per-prompt mean
// length or nothing (NaN: an arrival that failed the accuracy filter, in `windowCounts: "arrivals"`),
// indexed by an order-statistics multiset so that insert, evict and quantile are all O(log).
import { createOrderStatistics, type OrderStatistics } from "./order-stats.js";
import { quantileRank, type LengthLevels, type Thresholds } from "./quantile.js";

export class LengthWindow {
  private readonly ring: Float64Array;
  private head = 0; // oldest slot
  private filled = 0;
  private pushed = 0;
  private readonly index: OrderStatistics;

  constructor(
    readonly capacity: number,
    orderStatistics: string,
  ) {
    this.ring = new Float64Array(capacity);
    this.index = createOrderStatistics(orderStatistics);
  }

  /** Slots in use (arrivals or lengths, depending on what the sampler pushes); W when full. */
  get slots(): number {
    return this.filled;
  }

  /** Lengths held: the sample the quantiles are taken over. */
  get lengths(): number {
    return this.index.size;
  }

  /**
   * Slots pushed since this window was built (restored slots count): with `newest`, what lets a caller
   * persist the window as an append log (the sampler service writes only the slots pushed since its last
   * save, not all W).
   */
  get pushes(): number {
    return this.pushed;
  }

  /** Appends a slot (a length, or NaN for none), evicting the oldest when the window is full. */
  push(value: number): void {
    this.pushed++;
    const ring = this.ring;
    if (this.filled === this.capacity) {
      const old = ring[this.head];
      if (old === old) this.index.delete(old); // NaN !== NaN: an empty slot holds no length
      ring[this.head] = value;
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    } else {
      const at = this.head + this.filled;
      ring[at >= this.capacity ? at - this.capacity : at] = value;
      this.filled++;
    }
    if (value === value) this.index.add(value);
  }

  /** Q(a) over the lengths held; the window must hold at least one. */
  quantile(a: number): number {
    return this.index.select(quantileRank(a, this.index.size));
  }

  thresholds(levels: LengthLevels): Thresholds | null {
    if (this.index.size === 0) return null;
    return { low: this.quantile(levels.lLow), high: this.quantile(levels.lHigh), max: this.quantile(levels.lMax), windowFill: this.index.size };
  }

  /** Slots oldest first, null for a slot without a length: the snapshot's form. */
  toJSON(): (number | null)[] {
    const out: (number | null)[] = new Array(this.filled);
    for (let i = 0; i < this.filled; i++) {
      const v = this.ring[(this.head + i) % this.capacity];
      out[i] = v === v ? v : null;
    }
    return out;
  }

  /** The newest `n` slots (n <= slots), oldest first, NaN for a slot without a length. */
  newest(n: number): Float64Array {
    if (!Number.isInteger(n) || n < 0 || n > this.filled) throw new RangeError(`window.newest: n must be an integer in [0, ${this.filled}], got ${n}`);
    const out = new Float64Array(n);
    const start = this.head + this.filled - n;
    for (let i = 0; i < n; i++) out[i] = this.ring[(start + i) % this.capacity];
    return out;
  }

  /** Typed storage held: the ring plus the index. */
  byteSize(): number {
    return this.ring.byteLength + this.index.byteSize();
  }
}
