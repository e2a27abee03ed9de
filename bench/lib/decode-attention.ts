// Part 4 of bench/decode.ts: the in-place decode step's two attention products alone, the only ops that read the
// KV cache, in the form before and after the one-row rewrite (libs/model llama/decoder.ts `rowByRow`), beside
// the rate at which onnxruntime streams memory on this machine. Both forms compute the scores K q^T over the keys
// [B, Hkv, C, hd] (the cache as the left operand: onnxruntime reads it where it lies and packs the query rows)
// and the context p V over the values [B, Hkv, C, hd] for every layer of a model:
// - "several rows": one product per (row, kv head) with the G query heads of the group as its rows (the scores
//   then transposed to [G, C]: G x C numbers, not the cache);
// - "one row": the G rows as a broadcast batch dimension, so each product is the cache times one vector.
// (Until the keys took the values' layout, the scores were q K over keys [B, Hkv, hd, C]; the results of
// a625d66 and 44165a6 were measured that way.)
// Which form the decoder takes depends on G (ONE_ROW_MAX_GROUP there), so the part runs at several G.
// The cache is read once per product either way; the bytes per step are the cache's (keys and values of every
// layer), and GB/s is those bytes over the step's median time. The reference rate is one ReduceSum over
// 512 MB (read once, nothing written): what onnxruntime's best streaming kernel reaches with the same threads.
import { Graph, OrtSession, type Value, encodeModel, ops } from "@lspo/model";
import type { LlamaConfig } from "@lspo/model";

/** What the products' shapes depend on: a model's attention geometry. */
export type AttentionGeometry = Pick<LlamaConfig, "numLayers" | "numHeads" | "numKvHeads" | "headDim">;
import { type Summary, summarize } from "./stats.js";

export type AttentionForm = "several rows" | "one row";
export const ATTENTION_FORMS: readonly AttentionForm[] = ["several rows", "one row"];

export interface AttentionShape {
  batch: number;
  /** Cache slots per row (C). */
  slots: number;
}

function productsGraph(cfg: AttentionGeometry, { batch: B, slots: C }: AttentionShape, form: AttentionForm): Uint8Array {
  const { numKvHeads: K, headDim: hd } = cfg;
  const G = cfg.numHeads / K;
  const g = new Graph(`attention_products_${form.replace(" ", "_")}`);
  // As libs/model llama/decoder.ts keyScores and rowByRow take them.
  const scores = (q: Value<"float32">, keys: Value<"float32">): Value<"float32"> =>
    form === "several rows"
      ? ops.transpose(ops.matmul(keys, ops.transpose(q, [0, 1, 3, 2])), [0, 1, 3, 2])
      : ops.squeeze(ops.matmul(ops.unsqueeze(keys, [2]), ops.unsqueeze(q, [4])), [4]);
  const context = (p: Value<"float32">, values: Value<"float32">): Value<"float32"> =>
    form === "several rows" ? ops.matmul(p, values) : ops.squeeze(ops.matmul(ops.unsqueeze(p, [3]), ops.unsqueeze(values, [2])), [3]);
  for (let l = 0; l < cfg.numLayers; l++) {
    const q = g.input(`q.${l}`, "float32", [B, K, G, hd]);
    const p = g.input(`p.${l}`, "float32", [B, K, G, C]);
    const keys = g.input(`keys.${l}`, "float32", [B, K, C, hd]);
    const values = g.input(`values.${l}`, "float32", [B, K, C, hd]);
    g.output(`scores.${l}`, scores(q, keys));
    g.output(`context.${l}`, context(p, values));
  }
  return encodeModel(g);
}

/** Seeded numbers in [-0.5, 0.5): the products' time does not depend on them, only reproducibility does. */
function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) a[i] = ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  return a;
}

async function medianRunSeconds(session: OrtSession, feeds: Parameters<OrtSession["run"]>[0], reps: number): Promise<number> {
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push((performance.now() - t0) / 1000);
  }
  return summarize(times).median;
}

export interface AttentionCase extends AttentionShape {
  /** Keys and values of every layer, the bytes each step's products read. */
  cacheBytes: number;
  /** Per form: median seconds per step (all layers' two products) over each run, and the cache read rate. */
  forms: Record<AttentionForm, { seconds: Summary; gbPerS: Summary }>;
  oneRowSpeedup: Summary;
}

/** Both forms at each shape, `runs` times in alternating order (reps steps each); ratios within a run. */
export async function timeAttention(cfg: AttentionGeometry, shapes: readonly AttentionShape[], threads: number, runs: number, reps: number): Promise<AttentionCase[]> {
  const out: AttentionCase[] = [];
  for (const shape of shapes) {
    const { numKvHeads: K, headDim: hd } = cfg;
    const G = cfg.numHeads / K;
    const { batch: B, slots: C } = shape;
    const feeds: Record<string, { dtype: "float32"; shape: number[]; data: Float32Array }> = {};
    for (let l = 0; l < cfg.numLayers; l++) {
      feeds[`q.${l}`] = { dtype: "float32", shape: [B, K, G, hd], data: filled(B * K * G * hd, 4 * l) };
      feeds[`p.${l}`] = { dtype: "float32", shape: [B, K, G, C], data: filled(B * K * G * C, 4 * l + 1) };
      feeds[`keys.${l}`] = { dtype: "float32", shape: [B, K, C, hd], data: filled(B * K * C * hd, 4 * l + 2) };
      feeds[`values.${l}`] = { dtype: "float32", shape: [B, K, C, hd], data: filled(B * K * C * hd, 4 * l + 3) };
    }
    const cacheBytes = 2 * cfg.numLayers * B * K * C * hd * 4;
    const sessions = Object.fromEntries(await Promise.all(ATTENTION_FORMS.map(async (f) => [f, await OrtSession.create(productsGraph(cfg, shape, f), { threads })] as const))) as Record<AttentionForm, OrtSession>;
    try {
      // The same products both ways, up to float32 rounding (the two kernels sum each dot product in their own
      // order): every output within 1e-4 of the output's largest magnitude.
      const [a, b] = await Promise.all(ATTENTION_FORMS.map((f) => sessions[f].run(feeds)));
      for (const name of Object.keys(a)) {
        const [x, y] = [a[name].data as Float32Array, b[name].data as Float32Array];
        const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const worst = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0) / scale;
        if (!(worst <= 1e-4)) throw new Error(`attention products: '${name}' differs between the forms by ${worst} of its largest magnitude`);
      }
      const seconds: Record<AttentionForm, number[]> = { "several rows": [], "one row": [] };
      for (let run = 0; run < runs; run++) {
        const order = run % 2 ? [...ATTENTION_FORMS].reverse() : ATTENTION_FORMS;
        for (const f of order) seconds[f].push(await medianRunSeconds(sessions[f], feeds, reps));
      }
      const forms = Object.fromEntries(ATTENTION_FORMS.map((f) => [f, {
        seconds: summarize(seconds[f]), gbPerS: summarize(seconds[f].map((s) => cacheBytes / s / 1e9)),
      }])) as AttentionCase["forms"];
      const oneRowSpeedup = summarize(seconds["several rows"].map((s, i) => s / seconds["one row"][i]));
      out.push({ ...shape, cacheBytes, forms, oneRowSpeedup });
      console.log(`  attention products, batch ${B}, ${C} slots (${(cacheBytes / 1e6).toFixed(0)} MB of cache): several rows ${(forms["several rows"].seconds.median * 1000).toFixed(2)} ms ` +
        `(${forms["several rows"].gbPerS.median.toFixed(1)} GB/s), one row ${(forms["one row"].seconds.median * 1000).toFixed(2)} ms (${forms["one row"].gbPerS.median.toFixed(1)} GB/s); ${oneRowSpeedup.median.toFixed(2)}x`);
    } finally {
      for (const s of Object.values(sessions)) await s.release();
    }
  }
  return out;
}

/** onnxruntime's streaming read rate: one ReduceSum over `bytes` of float32, rows of 4,096, median over reps. */
export async function streamingReadRate(bytes: number, threads: number, reps: number): Promise<{ bytes: number; gbPerS: Summary }> {
  const n = bytes / 4;
  const g = new Graph("streaming_read");
  const x = g.input("x", "float32", [n / 4096, 4096]);
  g.output("sums", ops.reduceSum(x, [1], false));
  const session = await OrtSession.create(encodeModel(g), { threads });
  try {
    const feeds = { x: { dtype: "float32" as const, shape: [n / 4096, 4096], data: new Float32Array(n).fill(1) } };
    await session.run(feeds);
    const rates: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      rates.push(bytes / ((performance.now() - t0) / 1000) / 1e9);
    }
    const gbPerS = summarize(rates);
    console.log(`  onnxruntime streaming read (ReduceSum over ${(bytes / 1e6).toFixed(0)} MB): ${gbPerS.median.toFixed(1)} GB/s (${gbPerS.min.toFixed(1)}–${gbPerS.max.toFixed(1)})`);
    return { bytes, gbPerS };
  } finally {
    await session.release();
  }
}
