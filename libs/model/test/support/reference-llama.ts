// An independent Llama-family forward pass in plain TypeScript, float64, written from the transformers
// modelling code's equations (not from our graph builder) to check our ONNX graphs where transformers
// itself is unavailable. Slow and simple on purpose: loops over tokens, heads and features.
// Covers the family: GQA, optional q/k/v bias (qwen2), q/k RMSNorm (qwen3), tied embeddings.
import { type LlamaConfig } from "../../src/config.js";
import { type DecoderStepInput, type DecoderStepOutput, type IncrementalDecoder, type KvTensor } from "../../src/generate/decoder.js";
import { isDeviceTensor } from "../../src/runtime/device-tensor.js";
import { type Weights } from "../../src/tensor.js";

type Vec = Float64Array;

export interface ReferenceKv {
  /** per layer, per row: list over time of [Hkv * hd] (post-RoPE keys) */
  keys: Vec[][][];
  values: Vec[][][];
}

export class ReferenceLlama {
  private readonly w: (name: string) => Float32Array;

  constructor(readonly config: LlamaConfig, weights: Weights) {
    this.w = (name) => {
      const t = weights.get(name);
      if (!t) throw new Error(`reference: missing weight ${name}`);
      return t.data;
    };
  }

  /** y = W x (+ b) for W [out, in] row-major. */
  private linear(x: Vec, name: string, out: number, bias = false): Vec {
    const W = this.w(`${name}.weight`);
    const n = x.length;
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += W[o * n + i] * x[i];
      y[o] = s;
    }
    if (bias) {
      const b = this.w(`${name}.bias`);
      for (let o = 0; o < out; o++) y[o] += b[o];
    }
    return y;
  }

  /** x / sqrt(mean(x^2) + eps) * w, over consecutive groups of `size` (size = x.length for a plain norm). */
  private rmsNorm(x: Vec, name: string, size = x.length): Vec {
    const w = this.w(name);
    const y = new Float64Array(x.length);
    for (let g = 0; g < x.length; g += size) {
      let ms = 0;
      for (let i = 0; i < size; i++) ms += x[g + i] ** 2;
      const r = 1 / Math.sqrt(ms / size + this.config.rmsNormEps);
      for (let i = 0; i < size; i++) y[g + i] = x[g + i] * r * w[i];
    }
    return y;
  }

  /** Rotates every head of x [heads * hd] in place for position pos (HF's rotate_half form). */
  private rope(x: Vec, pos: number): void {
    const hd = this.config.headDim, half = hd / 2;
    for (let i = 0; i < half; i++) {
      // transformers computes inv_freq in float32
      const inv = Math.fround(1 / Math.fround(this.config.ropeTheta ** Math.fround((2 * i) / hd)));
      const a = pos * inv, c = Math.cos(a), s = Math.sin(a);
      for (let h = 0; h < x.length; h += hd) {
        const x1 = x[h + i], x2 = x[h + i + half];
        x[h + i] = x1 * c - x2 * s;
        x[h + i + half] = x2 * c + x1 * s;
      }
    }
  }

  /**
   * One step for a batch: tokens [B][T], positions [B][T], mask [B][P+T]; kv holds the past per layer/row
   * and is extended in place. Returns logits [B][T][V].
   */
  forward(tokens: number[][], positions: number[][], mask: number[][], kv: ReferenceKv): Vec[][] {
    const c = this.config;
    const D = c.hiddenSize, H = c.numHeads, K = c.numKvHeads, hd = c.headDim, V = c.vocabSize, I = c.intermediateSize;
    const emb = this.w("model.embed_tokens.weight");
    const head = c.tieWordEmbeddings ? emb : this.w("lm_head.weight");
    const scale = 1 / Math.sqrt(hd);
    const out: Vec[][] = [];
    for (let b = 0; b < tokens.length; b++) {
      const T = tokens[b].length;
      let xs: Vec[] = tokens[b].map((id) => Float64Array.from(emb.subarray(id * D, (id + 1) * D)));
      for (let l = 0; l < c.numLayers; l++) {
        const p = `model.layers.${l}`;
        const keys = (kv.keys[l][b] ??= []), values = (kv.values[l][b] ??= []);
        const P = keys.length;
        const qs: Vec[] = [];
        for (let t = 0; t < T; t++) {
          const h = this.rmsNorm(xs[t], `${p}.input_layernorm.weight`);
          let q = this.linear(h, `${p}.self_attn.q_proj`, H * hd, c.attentionBias);
          let k = this.linear(h, `${p}.self_attn.k_proj`, K * hd, c.attentionBias);
          const v = this.linear(h, `${p}.self_attn.v_proj`, K * hd, c.attentionBias);
          if (c.qkNorm) {
            q = this.rmsNorm(q, `${p}.self_attn.q_norm.weight`, hd);
            k = this.rmsNorm(k, `${p}.self_attn.k_norm.weight`, hd);
          }
          this.rope(q, positions[b][t]);
          this.rope(k, positions[b][t]);
          qs.push(q);
          keys.push(k);
          values.push(v);
        }
        const next: Vec[] = [];
        for (let t = 0; t < T; t++) {
          const attn = new Float64Array(H * hd);
          for (let h = 0; h < H; h++) {
            const g = Math.floor(h / (H / K)); // the kv head this query head reads
            const visible: number[] = [];
            for (let s = 0; s <= P + t; s++) if (mask[b][s] === 1) visible.push(s);
            const scores = visible.map((s) => {
              let d = 0;
              for (let i = 0; i < hd; i++) d += qs[t][h * hd + i] * keys[s][g * hd + i];
              return d * scale;
            });
            const m = Math.max(...scores);
            const e = scores.map((x) => Math.exp(x - m));
            const z = e.reduce((x, y) => x + y, 0);
            visible.forEach((s, j) => {
              for (let i = 0; i < hd; i++) attn[h * hd + i] += (e[j] / z) * values[s][g * hd + i];
            });
          }
          const o = this.linear(attn, `${p}.self_attn.o_proj`, D);
          const x1 = xs[t].map((x, i) => x + o[i]);
          const h2 = this.rmsNorm(x1, `${p}.post_attention_layernorm.weight`);
          const gate = this.linear(h2, `${p}.mlp.gate_proj`, I);
          const up = this.linear(h2, `${p}.mlp.up_proj`, I);
          const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]); // silu(gate) * up
          const down = this.linear(act, `${p}.mlp.down_proj`, D);
          next.push(x1.map((x, i) => x + down[i]));
        }
        xs = next;
      }
      out.push(xs.map((x) => {
        const h = this.rmsNorm(x, "model.norm.weight");
        const logits = new Float64Array(V);
        for (let v = 0; v < V; v++) {
          let s = 0;
          for (let i = 0; i < D; i++) s += head[v * D + i] * h[i];
          logits[v] = s;
        }
        return logits;
      }));
    }
    return out;
  }

  /** Full-sequence logits [B][T][V] with an all-ones mask and positions 0..T-1 (what model(input_ids) does). */
  logits(tokens: number[][]): Vec[][] {
    const kv = this.emptyKv();
    return this.forward(tokens, tokens.map((r) => r.map((_, i) => i)), tokens.map((r) => r.map(() => 1)), kv);
  }

  emptyKv(): ReferenceKv {
    return { keys: Array.from({ length: this.config.numLayers }, () => []), values: Array.from({ length: this.config.numLayers }, () => []) };
  }

  /** The same model behind the IncrementalDecoder interface, converting to and from its tensor layouts. */
  asDecoder(): IncrementalDecoder {
    const self = this;
    const c = this.config;
    const kvWidth = c.numKvHeads * c.headDim;
    return {
      config: c,
      async step(input: DecoderStepInput): Promise<DecoderStepOutput> {
        const [B, T] = input.inputIds.shape;
        const S = input.attentionMask.shape[1];
        const P = S - T;
        const rows = (t: { data: BigInt64Array }, width: number) =>
          Array.from({ length: B }, (_, b) => Array.from(t.data.subarray(b * width, (b + 1) * width), Number));
        // rebuild the past from the time-major tensors [P, B, Hkv, hd]
        const kv = self.emptyKv();
        const host = (t: KvTensor) => {
          if (isDeviceTensor(t)) throw new Error("the reference decoder takes host K/V only");
          return t.data;
        };
        for (let l = 0; l < c.numLayers; l++) {
          for (let b = 0; b < B; b++) {
            kv.keys[l][b] = [];
            kv.values[l][b] = [];
            for (let s = 0; s < P; s++) {
              const off = (s * B + b) * kvWidth;
              kv.keys[l][b].push(Float64Array.from(host(input.pastKeys[l]).subarray(off, off + kvWidth)));
              kv.values[l][b].push(Float64Array.from(host(input.pastValues[l]).subarray(off, off + kvWidth)));
            }
          }
        }
        const logits = self.forward(rows(input.inputIds, T), rows(input.positionIds, T), rows(input.attentionMask, S), kv);
        const V = c.vocabSize;
        const last = new Float32Array(B * V);
        for (let b = 0; b < B; b++) last.set(logits[b][T - 1], b * V);
        const slice = (which: "keys" | "values", l: number) => {
          const d = new Float32Array(T * B * kvWidth);
          for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) d.set(kv[which][l][b][P + t], (t * B + b) * kvWidth);
          return { dtype: "float32" as const, shape: [T, B, c.numKvHeads, c.headDim], data: d };
        };
        return {
          logits: { dtype: "float32", shape: [B, V], data: last },
          newKeys: Array.from({ length: c.numLayers }, (_, l) => slice("keys", l)),
          newValues: Array.from({ length: c.numLayers }, (_, l) => slice("values", l)),
        };
      },
    };
  }
}
