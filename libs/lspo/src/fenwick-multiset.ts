// An exact order-statistics multiset over non-negative numbers: a Fenwick tree counts values per
// integer bucket floor(v / 2^shift); each bucket keeps its distinct values sorted, with counts.
//
// Why this shape: per-prompt mean lengths are rationals S/G, so a plain Fenwick tree over integers
// would lose ties or order. Buckets of width 1 hold at most G distinct means (S = bG .. bG+G-1), so
// the in-bucket work is O(G) and independent of the window size W; the Fenwick part is O(log U) for
// U buckets (U <= 65536). Lengths beyond 65536 tokens double the bucket width instead of the array,
// so memory stays bounded and every answer stays exact. Compared with a balanced tree the hot data
// (a 64-256 KiB Int32Array) stays in cache; bench/sampler.ts measures the difference.
import type { OrderStatistics } from "./order-stats.js";

const INITIAL_BUCKETS = 1024;
const MAX_BUCKETS = 1 << 16;

export class FenwickMultiset implements OrderStatistics {
  size = 0;
  private buckets = INITIAL_BUCKETS; // a power of two, so the descent in select needs no bound search
  private scale = 1; // 2^-shift: v * scale is exact
  private tree = new Int32Array(INITIAL_BUCKETS + 1); // 1-based Fenwick over bucket counts
  private counts = new Int32Array(INITIAL_BUCKETS); // plain per-bucket counts, for rebuilds
  // Per bucket: distinct values ascending, interleaved with their counts: [v0, c0, v1, c1, ...].
  private lists: (number[] | undefined)[] = [];

  add(v: number): void {
    let b = Math.floor(v * this.scale);
    if (b >= this.buckets) {
      this.grow(b);
      b = Math.floor(v * this.scale);
    }
    let list = this.lists[b];
    if (list === undefined) list = this.lists[b] = [];
    let i = 0;
    while (i < list.length && list[i] < v) i += 2;
    if (i < list.length && list[i] === v) list[i + 1]++;
    else list.splice(i, 0, v, 1);
    this.counts[b]++;
    const tree = this.tree;
    for (let j = b + 1; j <= this.buckets; j += j & -j) tree[j]++;
    this.size++;
  }

  delete(v: number): void {
    const b = Math.floor(v * this.scale);
    const list = b < this.buckets ? this.lists[b] : undefined;
    let i = 0;
    if (list !== undefined) while (i < list.length && list[i] < v) i += 2;
    if (list === undefined || i >= list.length || list[i] !== v) throw new Error(`order statistics: delete(${v}) of a value not held`);
    if (--list[i + 1] === 0) list.splice(i, 2);
    this.counts[b]--;
    const tree = this.tree;
    for (let j = b + 1; j <= this.buckets; j += j & -j) tree[j]--;
    this.size--;
  }

  select(k: number): number {
    if (!(k >= 1 && k <= this.size)) throw new RangeError(`order statistics: select(${k}) outside 1..${this.size}`);
    // Fenwick descent: the largest bucket prefix holding fewer than k values.
    const tree = this.tree;
    const n = this.buckets;
    let pos = 0;
    let rem = k;
    for (let step = n; step > 0; step >>= 1) {
      const next = pos + step;
      if (next <= n && tree[next] < rem) {
        pos = next;
        rem -= tree[next];
      }
    }
    const list = this.lists[pos]!; // bucket `pos` (0-based) holds the k-th value
    for (let i = 0; ; i += 2) {
      rem -= list[i + 1];
      if (rem <= 0) return list[i];
    }
  }

  byteSize(): number {
    let listBytes = 0;
    for (const l of this.lists) if (l !== undefined) listBytes += 8 * l.length;
    return this.tree.byteLength + this.counts.byteLength + 8 * this.lists.length + listBytes;
  }

  /** Makes room for bucket b: double the bucket count up to MAX_BUCKETS, then double the bucket width. */
  private grow(b: number): void {
    while (b >= this.buckets && this.buckets < MAX_BUCKETS) {
      const counts = new Int32Array(this.buckets * 2);
      counts.set(this.counts);
      this.counts = counts;
      this.buckets *= 2;
    }
    while (b >= this.buckets) {
      // floor(v / 2w) = floor(floor(v / w) / 2): old buckets 2j and 2j+1 merge into j, and every value of
      // bucket 2j is below every value of 2j+1, so concatenation keeps the merged list sorted.
      const half = this.buckets / 2;
      for (let j = 0; j < half; j++) {
        const a = this.lists[2 * j];
        const c = this.lists[2 * j + 1];
        this.lists[j] = a === undefined ? c : c === undefined ? a : a.concat(c);
        this.counts[j] = this.counts[2 * j] + this.counts[2 * j + 1];
      }
      for (let j = half; j < this.buckets; j++) {
        this.lists[j] = undefined;
        this.counts[j] = 0;
      }
      this.scale /= 2;
      b = Math.floor(b / 2);
    }
    this.lists.length = Math.min(this.lists.length, this.buckets);
    this.rebuildTree();
  }

  private rebuildTree(): void {
    const n = this.buckets;
    const tree = new Int32Array(n + 1);
    for (let i = 1; i <= n; i++) tree[i] = this.counts[i - 1];
    for (let i = 1; i <= n; i++) {
      const j = i + (i & -i);
      if (j <= n) tree[j] += tree[i];
    }
    this.tree = tree;
  }
}
