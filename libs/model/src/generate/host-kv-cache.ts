// What the generation loop's two host KV caches share (kv-cache.ts time-major, slot-kv-cache.ts in the layout
// attention reads): per layer one keys and one values buffer holding `capacity` time steps of B rows, capacity
// growing as the longest sequence does (never past maxSteps, the most the generation can need), and JS arrays
// that the garbage collector frees. Each layout says how much to grow and how a buffer is copied when it does.
export abstract class HostKvCache {
  /** Time steps held (every row's, in the batch loop). */
  P = 0;
  protected keys: Float32Array[];
  protected values: Float32Array[];
  /** Time steps each row has room for. */
  protected capacity: number;
  /** Names the cache in errors. */
  protected abstract readonly label: string;

  constructor(
    protected readonly layers: number,
    /** Batch rows. */
    public B: number,
    protected readonly kvHeads: number,
    protected readonly headDim: number,
    initialSteps: number,
    /** The cache never needs more steps than this (longest prompt + maxNewTokens). */
    protected readonly maxSteps: number,
  ) {
    this.capacity = Math.min(Math.max(1, initialSteps), maxSteps);
    this.keys = Array.from({ length: layers }, () => new Float32Array(this.capacity * B * this.W));
    this.values = Array.from({ length: layers }, () => new Float32Array(this.capacity * B * this.W));
  }

  /** Numbers per row and time step. */
  protected get W(): number {
    return this.kvHeads * this.headDim;
  }

  /** Host arrays: the garbage collector frees them. */
  release(): void {}

  /** Makes room for `steps` time steps: capacity grows to `grown(capacity)` (at least `steps`, at most maxSteps). */
  protected reserve(steps: number): void {
    if (steps <= this.capacity) return;
    if (steps > this.maxSteps) throw new Error(`${this.label}: ${steps} steps exceed the limit of ${this.maxSteps}`);
    const next = Math.min(this.maxSteps, Math.max(steps, this.grown(this.capacity)));
    this.keys = this.keys.map((buf) => this.regrow(buf, "key", next));
    this.values = this.values.map((buf) => this.regrow(buf, "value", next));
    this.capacity = next;
  }

  /** The capacity after `capacity` has run out. */
  protected abstract grown(capacity: number): number;

  /** `buf` (this.capacity steps) copied into a new buffer of `next` steps. */
  protected abstract regrow(buf: Float32Array, kind: "key" | "value", next: number): Float32Array;
}
