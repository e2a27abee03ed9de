// The generation loop's KV cache in the layout attention reads (the in-place decode graph, llama/graphs.ts
// slotDecodeGraph): per layer, keys [B, Hkv, hd, C] and values [B, Hkv, C, hd], C slots per row, slot s holding
// time step s. The decode graph multiplies the queries by the keys and the probabilities by the values
// straight from these buffers (fed zero-copy), so a step never copies the cache; it returns only the new token's
// keys and values, written here into slot P of every row: Hkv * hd numbers per row and layer.
// The time-major cache (kv-cache.ts) is cheaper to append to but the graph must concatenate and transpose it
// every step, about three copies of the whole cache per token.
// Capacity grows by half again when full (up to the most steps the generation can need), so memory follows the
// longest live sequence; every slot past P is masked, and what a step reads costs at most 1.5x the live cache.
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
    const [B, K, hd, C] = [this.B, this.kvHeads, this.headDim, this.capacity];
    return {
      layout: "slots",
      keys: this.keys.map((data) => ({ dtype: "float32", shape: [B, K, hd, C], data })),
      values: this.values.map((data) => ({ dtype: "float32", shape: [B, K, C, hd], data })),
    };
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
            const bh = b * K + h;
            // Keys: slot s of dimension d at (bh * hd + d) * C + s (a strided write); values: a contiguous row.
            for (let d = 0; d < hd; d++) keys[(bh * hd + d) * C + P + t] = nk[src + d];
            const vAt = (bh * C + P + t) * hd;
            for (let d = 0; d < hd; d++) values[vAt + d] = nv[src + d];
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
          const src = (b * K + h) * hd, bh = b * K + h;
          for (let d = 0; d < hd; d++) keys[(bh * hd + d) * C + s] = nk[src + d];
          values.set(nv.subarray(src, src + hd), (bh * C + s) * hd);
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
          const src = (((from + t) * Bsrc + srcRow) * K + h) * hd, bh = row * K + h;
          for (let d = 0; d < hd; d++) keys[(bh * hd + d) * C + t] = nk[src + d];
          values.set(nv.subarray(src, src + hd), (bh * C + t) * hd);
        }
      }
    }
  }

  /** Makes room for `steps` slots per row (continuous batching grows the cache as its longest row does). */
  ensure(steps: number): void {
    this.reserve(steps);
  }

  /** Keeps only batch rows `rows` (in that order; a row may repeat: a shared prefill's copies). */
  keepRows(rows: number[]): void {
    const n = this.rowSize;
    const gather = (buf: Float32Array) => {
      const out = new Float32Array(rows.length * n);
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

  /** Every old slot of every row (not only P of them: under continuous batching each row has its own length). */
  protected regrow(buf: Float32Array, kind: "key" | "value", next: number): Float32Array {
    const [C, hd, bk] = [this.capacity, this.headDim, this.B * this.kvHeads];
    const out = new Float32Array(bk * hd * next);
    // Keys: bk * hd rows of C slots; values: bk rows of C slots of hd numbers.
    if (kind === "key") for (let r = 0; r < bk * hd; r++) out.set(buf.subarray(r * C, (r + 1) * C), r * next);
    else for (let r = 0; r < bk; r++) out.set(buf.subarray(r * C * hd, (r + 1) * C * hd), r * next * hd);
    return out;
  }
}
