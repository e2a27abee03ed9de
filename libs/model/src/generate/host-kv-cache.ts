// What the generation loop's two host KV caches share (kv-cache.ts time-major, slot-kv-cache.ts in the layout
// attention reads): per layer one keys and one values buffer holding `capacity` time steps of B rows, capacity
// growing as the longest sequence does (never past maxSteps, the most the generation can need). Each layout
// says how much to grow and how its rows move when it does.
// A buffer is allocated once, with room for maxSteps (RESERVE_BYTES permitting), and the cache works on a view
// of its first `capacity` steps: a regrow moves rows within it instead of allocating a second copy and faulting
// its pages in. Pages never touched cost nothing, so memory still follows the longest live sequence. Released
// buffers go to the decoder's pool (kv-buffer-pool.ts) for its next generation.
import type { KvBufferPool } from "./kv-buffer-pool.js";

/**
 * The most address space one cache's keys and values (all layers) reserve up front by default, in bytes. A
 * cache whose maxSteps would take more reserves what fits (at least its capacity) and allocates anew past that.
 */
export const RESERVE_BYTES = 4 * 2 ** 30;

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
    /**
     * pool: where buffers come from and go back to (without one they are allocated and left to the collector);
     * reserveBytes: what the buffers may reserve up front (default RESERVE_BYTES).
     */
    protected readonly memory: { pool?: KvBufferPool; reserveBytes?: number } = {},
  ) {
    this.capacity = Math.min(Math.max(1, initialSteps), maxSteps);
    this.keys = Array.from({ length: layers }, () => this.allocate(this.capacity, B));
    this.values = Array.from({ length: layers }, () => this.allocate(this.capacity, B));
  }

  /** Numbers per row and time step. */
  protected get W(): number {
    return this.kvHeads * this.headDim;
  }

  /** Gives the buffers to the pool (if any). The cache is not used after. */
  release(): void {
    this.memory.pool?.give([...this.keys, ...this.values].map((b) => b.buffer as ArrayBuffer));
    this.keys = [];
    this.values = [];
  }

  /**
   * A zeroed view of `steps` time steps of `rows` rows, over a buffer with room for maxSteps (as RESERVE_BYTES
   * permits): from the pool where it has one that large, else new.
   */
  protected allocate(steps: number, rows: number): Float32Array {
    const perStep = 2 * this.layers * rows * this.W * 4;
    const reserve = this.memory.reserveBytes ?? RESERVE_BYTES;
    const room = Math.min(this.maxSteps, Math.max(steps, Math.floor(reserve / perStep))) * rows * this.W;
    const spare = this.memory.pool?.take(room);
    const view = (spare ?? new Float32Array(room)).subarray(0, steps * rows * this.W);
    if (spare) view.fill(0);
    return view;
  }

  /** `buf`'s whole buffer when it can hold `floats` numbers (a regrow in place), else null. */
  protected room(buf: Float32Array, floats: number): Float32Array | null {
    return buf.byteOffset === 0 && buf.buffer.byteLength >= floats * 4 ? new Float32Array(buf.buffer as ArrayBuffer) : null;
  }

  /** Makes room for `steps` time steps: capacity grows to `grown(capacity)` (at least `steps`, at most maxSteps). */
  protected reserve(steps: number): void {
    if (steps <= this.capacity) return;
    if (steps > this.maxSteps) throw new Error(`${this.label}: ${steps} steps exceed the limit of ${this.maxSteps}`);
    const next = Math.min(this.maxSteps, Math.max(steps, this.grown(this.capacity)));
    this.keys = this.keys.map((buf) => this.regrow(buf, next));
    this.values = this.values.map((buf) => this.regrow(buf, next));
    this.capacity = next;
  }

  /** The capacity after `capacity` has run out. */
  protected abstract grown(capacity: number): number;

  /** `buf` (this.capacity steps) laid out for `next` steps: in its own buffer where it has room, else a new one. */
  protected abstract regrow(buf: Float32Array, next: number): Float32Array;
}
