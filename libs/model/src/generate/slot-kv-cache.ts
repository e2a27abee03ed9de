// The generation loop's KV cache in the layout attention reads (the in-place decode graph, llama/graphs.ts
// slotDecodeGraph): per layer, keys and values [B, Hkv, C, hd], C slots per row, slot s holding time step s. The
// decode graph multiplies the keys by the queries and the probabilities by the values straight from these
// buffers (fed zero-copy), so a step never copies the cache; it returns only the new token's keys and values,
// written here into slot P of every row: Hkv runs of hd contiguous numbers per row and layer. (Keys were
// [B, Hkv, hd, C] before, for q K: writing a slot was then a strided write per number, each to its own cache
// line; an ad-hoc profile had it at several percent of a 25M model's generation at batch 64.)
// The time-major cache (kv-cache.ts) is cheaper to append to but the graph must concatenate and transpose it
// every step, about three copies of the whole cache per token.
// Capacity grows by half again when full (up to the most steps the generation can need), so what a step reads
// follows the longest live sequence: every slot past P is masked, and a step reads at most 1.5x the live cache.
// A row's slots are contiguous, so growing moves every row; it moves them within the buffer (host-kv-cache.ts)
// and zeroes the new slots, so a view reads as a freshly allocated one would.
import type { Tensor } from "../tensor.js";
import type { DecoderStepOutput, KvStore, PastCache } from "./decoder.js";
import { HostKvCache } from "./host-kv-cache.js";

export class SlotKvCache extends HostKvCache implements KvStore {
  protected readonly label = "SlotKvCache";

  /** Numbers per row and layer, keys or values alike. */
  private get rowSize(): number {
    return this.kvHeads * this.headDim * this.capacity;
  }

  /** Empty time-major tensors before the prefill (the prefill graph takes those); the slots after it. */
  past(): PastCache {
    if (this.P === 0) {
      const empty = (): Tensor<"float32"> => ({ dtype: "float32", shape: [0, this.B, this.kvHeads, this.headDim], data: new Float32Array(0) });
      return { keys: Array.from({ length: this.layers }, empty), values: Array.from({ length: this.layers }, empty) };
    }
    return this.slots();
  }

  /** The slots as the decode graph takes them (zero-copy). */
  slots(): PastCache {
    const shape = [this.B, this.kvHeads, this.capacity, this.headDim];
    const view = (data: Float32Array): Tensor<"float32"> => ({ dtype: "float32", shape, data });
    return { layout: "slots", keys: this.keys.map(view), values: this.values.map(view) };
  }

  /** Writes T steps (per layer [T, B, Hkv, hd], time-major as every decoder returns them) into slots P .. P+T-1. */
  append({ newKeys, newValues }: Pick<DecoderStepOutput, "newKeys" | "newValues">): void {
    const T = newKeys[0].shape[0];
    this.reserve(this.P + T);
    const [B, K, hd, C, P] = [this.B, this.kvHeads, this.headDim, this.capacity, this.P];
    for (let l = 0; l < this.layers; l++) {
      const keys = this.keys[l], values = this.values[l];
      const nk = newKeys[l].data, nv = newValues[l].data;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < K; h++) {
            const src = ((t * B + b) * K + h) * hd;
            writeSlot(keys, values, nk, nv, src, ((b * K + h) * C + P + t) * hd, hd);
          }
        }
      }
    }
    this.P += T;
  }

  /**
   * Continuous batching (continuous.ts), where every row has its own length: writes a decode step's keys and
   * values ([1, B, Hkv, hd] per layer) into slot `at[b]` of each row b.
   */
  writeStep({ newKeys, newValues }: Pick<DecoderStepOutput, "newKeys" | "newValues">, at: Int32Array): void {
    const [B, K, hd, C] = [this.B, this.kvHeads, this.headDim, this.capacity];
    for (let l = 0; l < this.layers; l++) {
      const keys = this.keys[l], values = this.values[l];
      const nk = newKeys[l].data, nv = newValues[l].data;
      for (let b = 0; b < B; b++) {
        const s = at[b];
        if (s >= C) throw new Error(`SlotKvCache: row ${b} writes slot ${s} of ${C}`);
        for (let h = 0; h < K; h++) {
          writeSlot(keys, values, nk, nv, (b * K + h) * hd, ((b * K + h) * C + s) * hd, hd);
        }
      }
    }
  }

  /**
   * Continuous batching: fills row `row`'s slots 0 .. count-1 with time steps from .. from+count-1 of row `srcRow`
   * of a prefill's keys and values ([T, Bsrc, Hkv, hd] per layer). The row's older slots are left as they are
   * (masked by its length).
   */
  loadRow(row: number, prefill: Pick<DecoderStepOutput, "newKeys" | "newValues">, srcRow: number, from: number, count: number): void {
    this.reserve(count);
    const [K, hd, C] = [this.kvHeads, this.headDim, this.capacity];
    const Bsrc = prefill.newKeys[0].shape[1];
    for (let l = 0; l < this.layers; l++) {
      const keys = this.keys[l], values = this.values[l];
      const nk = prefill.newKeys[l].data, nv = prefill.newValues[l].data;
      for (let t = 0; t < count; t++) {
        for (let h = 0; h < K; h++) {
          writeSlot(keys, values, nk, nv, (((from + t) * Bsrc + srcRow) * K + h) * hd, ((row * K + h) * C + t) * hd, hd);
        }
      }
    }
  }

  /** Makes room for `steps` slots per row (continuous batching grows the cache as its longest row does). */
  ensure(steps: number): void {
    this.reserve(steps);
  }

  /**
   * Keeps only batch rows `rows` (in that order; a row may repeat: a shared prefill's copies). Rows that only
   * leave (ascending, none repeated) close up in place; any other order is gathered into new buffers.
   */
  keepRows(rows: number[]): void {
    const n = this.rowSize;
    const closeUp = rows.every((r, j) => j === 0 || r > rows[j - 1]);
    const gather = (buf: Float32Array): Float32Array => {
      if (closeUp) {
        // Row j comes from row rows[j] >= j: moving left in ascending order overwrites only rows already moved.
        rows.forEach((r, j) => r !== j && buf.copyWithin(j * n, r * n, (r + 1) * n));
        return buf.subarray(0, rows.length * n);
      }
      const out = this.allocate(this.capacity, rows.length);
      rows.forEach((r, j) => out.set(buf.subarray(r * n, (r + 1) * n), j * n));
      return out;
    };
    this.keys = this.keys.map(gather);
    this.values = this.values.map(gather);
    this.B = rows.length;
  }

  /** By half again: what a step reads past the live cache stays under half of it. */
  protected grown(capacity: number): number {
    return Math.ceil(1.5 * capacity);
  }

  /**
   * Every old slot of every row (not only P of them: under continuous batching each row has its own length),
   * moved to the wider layout. In place: last row first, as row r moves from r * C to r * next (never left, and
   * past every row still to move), each followed by zeroing its new slots.
   */
  protected regrow(buf: Float32Array, next: number): Float32Array {
    // B * Hkv rows of C slots of hd numbers, keys and values alike.
    const [C, rows, size] = [this.capacity, this.B * this.kvHeads, this.headDim];
    const room = this.room(buf, rows * next * size);
    if (!room) {
      const out = this.allocate(next, this.B);
      for (let r = 0; r < rows; r++) out.set(buf.subarray(r * C * size, (r + 1) * C * size), r * next * size);
      return out;
    }
    for (let r = rows - 1; r >= 0; r--) {
      if (r > 0) room.copyWithin(r * next * size, r * C * size, (r + 1) * C * size);
      room.fill(0, (r * next + C) * size, (r + 1) * next * size);
    }
    return room.subarray(0, rows * next * size);
  }
}

/**
 * One (row, kv head)'s slot: hd keys and hd values from `src` of the step's output to `at` of the slots. A loop,
 * not set(subarray): hd is tens of numbers, and a view object per run costs more than the copy (ad hoc: 256
 * appends at 25M batch 64 took about a third longer with set(subarray)).
 */
function writeSlot(keys: Float32Array, values: Float32Array, nk: Float32Array, nv: Float32Array, src: number, at: number, hd: number): void {
  for (let d = 0; d < hd; d++) {
    keys[at + d] = nk[src + d];
    values[at + d] = nv[src + d];
  }
}
