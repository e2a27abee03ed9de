// A deterministic shuffled cursor over a dataset of `size` items: each epoch visits every index once, in
// an order that is a seeded permutation of that epoch (Fisher-Yates driven by xoroshiro128+ seeded from
// (seed, epoch)). Its whole state is four integers, saved with a run's checkpoint as a plain object;
// restoring it continues with exactly the indices the uninterrupted cursor would have produced.
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

export interface CursorState {
  /** Number of items; a checkpoint restored against a dataset of another size is refused. */
  size: number;
  /** Integer in [0, 2^32). */
  seed: number;
  /** Current epoch, from 0. */
  epoch: number;
  /** Items of the current epoch already handed out: 0..size-1. */
  position: number;
}

export class CursorStateError extends Error {
  override readonly name = "CursorStateError";
}

/** A 32-bit seed for one epoch: murmur3's finaliser over (seed, epoch), so neighbouring epochs differ fully. */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** The order in which epoch `epoch` visits indices 0..size-1. */
export function epochPermutation(size: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  const rng = xoroshiro128plus(epochSeed(seed, epoch));
  for (let i = size - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

function checkState(s: CursorState): void {
  const problems: string[] = [];
  const isInt = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v);
  if (!isInt(s.size) || s.size < 1) problems.push(`size must be a positive integer (got ${JSON.stringify(s.size)})`);
  if (!isInt(s.seed) || s.seed < 0 || s.seed >= 2 ** 32) problems.push(`seed must be an integer in [0, 2^32) (got ${JSON.stringify(s.seed)})`);
  if (!isInt(s.epoch) || s.epoch < 0) problems.push(`epoch must be an integer >= 0 (got ${JSON.stringify(s.epoch)})`);
  if (!isInt(s.position) || s.position < 0 || s.position >= s.size) {
    problems.push(`position must be an integer in [0, size) (got ${JSON.stringify(s.position)})`);
  }
  if (problems.length) throw new CursorStateError(`invalid cursor state: ${problems.join("; ")}`);
}

export class ShuffledCursor {
  private readonly s: CursorState;
  private order: Int32Array;

  /** Starts at epoch 0, position 0. */
  constructor(size: number, seed: number) {
    this.s = { size, seed, epoch: 0, position: 0 };
    checkState(this.s);
    this.order = epochPermutation(size, seed, 0);
  }

  /** Continues from a checkpointed state; `expectedSize` (the dataset's size now) must match the saved one. */
  static restore(state: CursorState, expectedSize?: number): ShuffledCursor {
    if (typeof state !== "object" || state === null) throw new CursorStateError(`invalid cursor state: expected an object, got ${JSON.stringify(state)}`);
    const unknown = Object.keys(state).filter((k) => !["size", "seed", "epoch", "position"].includes(k));
    if (unknown.length) throw new CursorStateError(`invalid cursor state: unknown key(s) ${unknown.join(", ")}`);
    checkState(state);
    if (expectedSize !== undefined && expectedSize !== state.size) {
      throw new CursorStateError(`the checkpointed cursor covers ${state.size} items but the dataset has ${expectedSize}: not the same dataset`);
    }
    const c = new ShuffledCursor(state.size, state.seed);
    c.s.epoch = state.epoch;
    c.s.position = state.position;
    c.order = epochPermutation(state.size, state.seed, state.epoch);
    return c;
  }

  get epoch(): number {
    return this.s.epoch;
  }

  /** The next index; rolls over into the next epoch's permutation after the last one. */
  next(): number {
    const index = this.order[this.s.position];
    if (++this.s.position === this.s.size) {
      this.s.position = 0;
      this.s.epoch++;
      this.order = epochPermutation(this.s.size, this.s.seed, this.s.epoch);
    }
    return index;
  }

  /** The next `n` indices (may span epochs). */
  take(n: number): number[] {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`take(n) needs an integer n >= 0, got ${n}`);
    return Array.from({ length: n }, () => this.next());
  }

  /** A plain, JSON-safe copy of the state, for checkpoints. */
  state(): CursorState {
    return { ...this.s };
  }
}
