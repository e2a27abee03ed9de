// An exact order-statistics multiset as a treap: one node per distinct value with its count and the
// size of its subtree, all in typed arrays (no per-node objects). Expected O(log D) per operation for
// D distinct values, whatever the values are. Kept as the general alternative to FenwickMultiset and
// as a second, independent implementation the tests hold against a sorted array.
//
// Priorities come from a fixed-seed xorshift generator. They shape the tree only, never an answer, so
// a restored window (rebuilt node by node) answers exactly as the original did.
import type { OrderStatistics } from "./order-stats.js";

export class TreapMultiset implements OrderStatistics {
  private capacity = 1024;
  private key = new Float64Array(this.capacity);
  private cnt = new Int32Array(this.capacity);
  private sum = new Int32Array(this.capacity); // values in the subtree, counting repeats; sum[0] = 0
  private left = new Int32Array(this.capacity);
  private right = new Int32Array(this.capacity);
  private prio = new Uint32Array(this.capacity);
  private root = 0; // node 0 is the empty tree
  private used = 1; // nodes 1..used-1 were handed out at least once
  private freeList: number[] = [];
  private seed = 0x9e3779b9;

  get size(): number {
    return this.sum[this.root];
  }

  add(v: number): void {
    this.root = this.insert(this.root, v);
  }

  delete(v: number): void {
    this.root = this.remove(this.root, v);
  }

  select(k: number): number {
    if (!(k >= 1 && k <= this.size)) throw new RangeError(`order statistics: select(${k}) outside 1..${this.size}`);
    const { left, right, sum, cnt } = this;
    let t = this.root;
    for (;;) {
      const ls = sum[left[t]];
      if (k <= ls) t = left[t];
      else if (k <= ls + cnt[t]) return this.key[t];
      else {
        k -= ls + cnt[t];
        t = right[t];
      }
    }
  }

  byteSize(): number {
    return this.capacity * (8 + 4 * 5) + 4 * this.freeList.length;
  }

  private insert(t: number, v: number): number {
    if (t === 0) return this.node(v);
    const k = this.key[t];
    this.sum[t]++;
    if (v === k) {
      this.cnt[t]++;
      return t;
    }
    if (v < k) {
      const l = this.insert(this.left[t], v);
      this.left[t] = l;
      return this.prio[l] > this.prio[t] ? this.rotateRight(t) : t;
    }
    const r = this.insert(this.right[t], v);
    this.right[t] = r;
    return this.prio[r] > this.prio[t] ? this.rotateLeft(t) : t;
  }

  private remove(t: number, v: number): number {
    if (t === 0) throw new Error(`order statistics: delete(${v}) of a value not held`);
    const k = this.key[t];
    if (v < k) this.left[t] = this.remove(this.left[t], v);
    else if (v > k) this.right[t] = this.remove(this.right[t], v);
    else if (this.cnt[t] > 1) this.cnt[t]--;
    else {
      const m = this.merge(this.left[t], this.right[t]);
      this.freeList.push(t);
      return m;
    }
    this.sum[t]--;
    return t;
  }

  /** Joins two treaps where every key of a is below every key of b. */
  private merge(a: number, b: number): number {
    if (a === 0) return b;
    if (b === 0) return a;
    if (this.prio[a] > this.prio[b]) {
      this.right[a] = this.merge(this.right[a], b);
      this.pull(a);
      return a;
    }
    this.left[b] = this.merge(a, this.left[b]);
    this.pull(b);
    return b;
  }

  private rotateRight(t: number): number {
    const l = this.left[t];
    this.left[t] = this.right[l];
    this.right[l] = t;
    this.pull(t);
    this.pull(l);
    return l;
  }

  private rotateLeft(t: number): number {
    const r = this.right[t];
    this.right[t] = this.left[r];
    this.left[r] = t;
    this.pull(t);
    this.pull(r);
    return r;
  }

  private pull(t: number): void {
    this.sum[t] = this.cnt[t] + this.sum[this.left[t]] + this.sum[this.right[t]];
  }

  private node(v: number): number {
    let t = this.freeList.pop();
    if (t === undefined) {
      if (this.used === this.capacity) this.growPool();
      t = this.used++;
    }
    let x = this.seed; // xorshift32
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    this.key[t] = v;
    this.cnt[t] = 1;
    this.sum[t] = 1;
    this.left[t] = 0;
    this.right[t] = 0;
    this.prio[t] = this.seed;
    return t;
  }

  private growPool(): void {
    const n = this.capacity * 2;
    const grow = <A extends Float64Array | Int32Array | Uint32Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.key = grow(this.key, (m) => new Float64Array(m));
    this.cnt = grow(this.cnt, (m) => new Int32Array(m));
    this.sum = grow(this.sum, (m) => new Int32Array(m));
    this.left = grow(this.left, (m) => new Int32Array(m));
    this.right = grow(this.right, (m) => new Int32Array(m));
    this.prio = grow(this.prio, (m) => new Uint32Array(m));
    this.capacity = n;
  }
}
