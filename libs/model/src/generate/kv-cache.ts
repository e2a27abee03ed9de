// The generation loop's KV cache, held in JS: per layer one keys and one values buffer, TIME-MAJOR
// [S, B, Hkv, hd]. Time-major makes the three things generation does cheap:
// - append a step: one contiguous `set` at offset P * B * W;
// - feed the past to the graph: a zero-copy prefix view [P, B, Hkv, hd];
// - grow: a longer view of the same buffer where it has room (host-kv-cache.ts), else allocate a longer one
//   and copy the prefix (one memcpy); either way memory follows the longest live sequence instead of being
//   touched for maxNewTokens up front (most RL responses stop early).
// Dropping finished rows (`keepRows`) is the one strided copy, done rarely (see generate.ts).
import { type Tensor } from "../tensor.js";
import type { DecoderStepOutput, KvStore, PastCache } from "./decoder.js";
import { HostKvCache } from "./host-kv-cache.js";

export class KvCache extends HostKvCache implements KvStore {
  protected readonly label = "KvCache";

  /** The past of each layer as zero-copy tensors [P, B, Hkv, hd]. */
  past(): PastCache & { keys: Tensor<"float32">[]; values: Tensor<"float32">[] } {
    const view = (buf: Float32Array): Tensor<"float32"> => ({
      dtype: "float32", shape: [this.P, this.B, this.kvHeads, this.headDim], data: buf.subarray(0, this.P * this.B * this.W),
    });
    return { keys: this.keys.map(view), values: this.values.map(view) };
  }

  /** Appends T steps: per layer slices [T, B, Hkv, hd]. */
  append({ newKeys, newValues }: Pick<DecoderStepOutput, "newKeys" | "newValues">): void {
    const T = newKeys[0].shape[0];
    this.reserve(this.P + T);
    const at = this.P * this.B * this.W;
    for (let l = 0; l < this.layers; l++) {
      this.keys[l].set(newKeys[l].data, at);
      this.values[l].set(newValues[l].data, at);
    }
    this.P += T;
  }

  /** Keeps only batch rows `rows` (in that order). */
  keepRows(rows: number[]): void {
    const gather = (buf: Float32Array) => {
      const nb = rows.length, W = this.W;
      const out = this.allocate(this.capacity, nb);
      for (let s = 0; s < this.P; s++) {
        for (let j = 0; j < nb; j++) out.set(buf.subarray((s * this.B + rows[j]) * W, (s * this.B + rows[j] + 1) * W), (s * nb + j) * W);
      }
      return out;
    };
    this.keys = this.keys.map(gather);
    this.values = this.values.map(gather);
    this.B = rows.length;
  }

  /** Doubling: growth costs O(1) per step amortised. */
  protected grown(capacity: number): number {
    return 2 * capacity;
  }

  /** In place, nothing moves (only the first P steps are ever read); else one memcpy of the P steps held. */
  protected regrow(buf: Float32Array, next: number): Float32Array {
    const floats = next * this.B * this.W;
    const room = this.room(buf, floats);
    if (room) return room.subarray(0, floats);
    const out = this.allocate(next, this.B);
    out.set(buf.subarray(0, this.P * this.B * this.W));
    return out;
  }
}
