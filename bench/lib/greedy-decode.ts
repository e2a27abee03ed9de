// The decode loop both model benchmarks time (bench/model.ts on the CPU, bench/gpu/measure.ts per provider):
// a prefill of B prompts, then greedy one-token steps through OnnxDecoder.step with the KV cache held in JS
// buffers sized for the whole run ([S, B, Hkv, hd] per layer), so no step allocates a cache.
import type { LlamaConfig, OnnxDecoder, Tensor } from "@lspo/model";

/**
 * Runs the prefill of `promptIds` (B rows of `prompt` token ids, row-major) and `steps` greedy steps.
 * Returns the wall seconds of each call: index 0 is the prefill, the rest are one-token decode steps.
 */
export async function timedGreedyDecode(dec: OnnxDecoder, cfg: LlamaConfig, B: number, promptIds: readonly number[], steps: number): Promise<number[]> {
  const prompt = promptIds.length / B;
  if (!Number.isInteger(prompt) || prompt < 1) throw new RangeError(`promptIds holds ${promptIds.length} ids, not B = ${B} rows of at least one`);
  const W = cfg.numKvHeads * cfg.headDim;
  const cap = prompt + steps;
  const keys = Array.from({ length: cfg.numLayers }, () => new Float32Array(cap * B * W));
  const values = Array.from({ length: cfg.numLayers }, () => new Float32Array(cap * B * W));
  const view = (buf: Float32Array, P: number): Tensor<"float32"> => ({ dtype: "float32", shape: [P, B, cfg.numKvHeads, cfg.headDim], data: buf.subarray(0, P * B * W) });
  const ints = (shape: [number, number], f: (i: number) => number): Tensor<"int64"> =>
    ({ dtype: "int64", shape, data: BigInt64Array.from({ length: shape[0] * shape[1] }, (_, i) => BigInt(f(i))) });
  let ids = ints([B, prompt], (i) => promptIds[i]);
  let P = 0;
  let T = prompt;
  const seconds: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    const out = await dec.step({
      inputIds: ids, positionIds: ints([B, T], (i) => P + (i % T)), attentionMask: ints([B, P + T], () => 1),
      pastKeys: keys.map((k) => view(k, P)), pastValues: values.map((v) => view(v, P)),
    });
    out.newKeys.forEach((k, l) => keys[l].set(k.data, P * B * W));
    out.newValues.forEach((v, l) => values[l].set(v.data, P * B * W));
    P += T;
    const V = cfg.vocabSize;
    const next = Array.from({ length: B }, (_, b) => {
      let best = 0;
      for (let v = 1; v < V; v++) if (out.logits.data[b * V + v] > out.logits.data[b * V + best]) best = v;
      return best;
    });
    ids = ints([B, 1], (i) => next[i]);
    T = 1;
    seconds.push((performance.now() - t0) / 1000);
  }
  return seconds;
}
