// Part 4 of bench/decode.ts: the in-place decode step's two attention products alone, the only ops that read the
// KV cache, in the three forms the decoder has taken (libs/model llama/decoder.ts slotAttention), beside the rate
// at which onnxruntime streams memory on this machine. Every form computes, for every layer of a model, the
// scores of the G query rows of each (row, kv head) against its keys and their context over its values:
// - "several rows": q K and p V with the cache on the right, keys [B, Hkv, hd, C] and values [B, Hkv, C, hd],
//   one product of G rows per (row, kv head) (the decoder's form before 8e2db71, and above G = 2 until a34e3ec);
// - "one row": the same layout, the G rows as a broadcast batch dimension, so each product is one vector times
//   the cache (the decoder's form at G <= 2 from 8e2db71 until a34e3ec);
// - "cache left": K q and V p with the cache on the left, keys [B, Hkv, C, hd] and values [B, Hkv, hd, C],
//   one product per (row, kv head) with the G queries as its columns (the decoder's form since a34e3ec).
// onnxruntime's CPU MatMul packs its right operand into panels and reads its left one in place: "several rows"
// packs (copies) the cache every step, "one row" reads it G times, "cache left" once. The bytes per step are
// the cache's (keys and values of every layer), and GB/s is those bytes over the step's median time. The
// reference rate is one ReduceSum over 512 MB (read once, nothing written): what onnxruntime's best streaming
// kernel reaches with the same threads.
import { Graph, OrtSession, type Value, encodeModel, ops } from "@lspo/model";
import type { LlamaConfig } from "@lspo/model";

/** What the products' shapes depend on: a model's attention geometry. */
export type AttentionGeometry = Pick<LlamaConfig, "numLayers" | "numHeads" | "numKvHeads" | "headDim">;
import { type Summary, summarize } from "./stats.js";

export type AttentionForm = "several rows" | "one row" | "cache left";
export const ATTENTION_FORMS: readonly AttentionForm[] = ["several rows", "one row", "cache left"];

export interface AttentionShape {
  batch: number;
  /** Cache slots per row (C). */
  slots: number;
}

function productsGraph(cfg: AttentionGeometry, { batch: B, slots: C }: AttentionShape, form: AttentionForm): Uint8Array {
  const { numKvHeads: K, headDim: hd } = cfg;
  const G = cfg.numHeads / K;
  const g = new Graph(`attention_products_${form.replace(" ", "_")}`);
  const times = (a: Value<"float32">, m: Value<"float32">): Value<"float32"> =>
    form === "several rows" ? ops.matmul(a, m) : ops.squeeze(ops.matmul(ops.unsqueeze(a, [3]), ops.unsqueeze(m, [2])), [3]);
  for (let l = 0; l < cfg.numLayers; l++) {
    const [q, p] = [g.input(`q.${l}`, "float32", [B, K, G, hd]), g.input(`p.${l}`, "float32", [B, K, G, C])];
    const [keys, values] = layoutOf(form, B, K, hd, C).map((shape, i) => g.input(`${i ? "values" : "keys"}.${l}`, "float32", shape));
    if (form === "cache left") {
      // Transposed back to [.., G, C] and [.., G, hd], so every form's outputs compare as they are: the two
      // transposes are of the small operands, as in the decoder.
      g.output(`scores.${l}`, ops.transpose(ops.matmul(keys, ops.transpose(q, [0, 1, 3, 2])), [0, 1, 3, 2]));
      g.output(`context.${l}`, ops.transpose(ops.matmul(values, ops.transpose(p, [0, 1, 3, 2])), [0, 1, 3, 2]));
    } else {
      g.output(`scores.${l}`, times(q, keys));
      g.output(`context.${l}`, times(p, values));
    }
  }
  return encodeModel(g);
}

/** The keys' and values' shapes a form reads. */
function layoutOf(form: AttentionForm, B: number, K: number, hd: number, C: number): [number[], number[]] {
  return form === "cache left" ? [[B, K, C, hd], [B, K, hd, C]] : [[B, K, hd, C], [B, K, C, hd]];
}

/** `m` [rows, cols] (the trailing two axes of a [n, rows, cols] array) transposed, for the other layout's feed. */
function transposedLast2(m: Float32Array, n: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < n; i++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[(i * cols + c) * rows + r] = m[(i * rows + r) * cols + c];
  return out;
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
  /** Several rows' time over one row's, per run. */
  oneRowSpeedup: Summary;
  /** Several rows' and one row's time over the cache-left form's, per run. */
  cacheLeftSpeedup: { overSeveralRows: Summary; overOneRow: Summary };
}

/** Every form at each shape, `runs` times in a rotating order (reps steps each); ratios within a run. */
export async function timeAttention(cfg: AttentionGeometry, shapes: readonly AttentionShape[], threads: number, runs: number, reps: number): Promise<AttentionCase[]> {
  const out: AttentionCase[] = [];
  for (const shape of shapes) {
    const { numKvHeads: K, headDim: hd } = cfg;
    const G = cfg.numHeads / K;
    const { batch: B, slots: C } = shape;
    type Feed = { dtype: "float32"; shape: number[]; data: Float32Array };
    const cacheRight: Record<string, Feed> = {}, cacheLeft: Record<string, Feed> = {};
    const [right, left] = [layoutOf("several rows", B, K, hd, C), layoutOf("cache left", B, K, hd, C)];
    for (let l = 0; l < cfg.numLayers; l++) {
      const q = { dtype: "float32" as const, shape: [B, K, G, hd], data: filled(B * K * G * hd, 4 * l) };
      const p = { dtype: "float32" as const, shape: [B, K, G, C], data: filled(B * K * G * C, 4 * l + 1) };
      const [keys, values] = [filled(B * K * hd * C, 4 * l + 2), filled(B * K * C * hd, 4 * l + 3)];
      Object.assign(cacheRight, { [`q.${l}`]: q, [`p.${l}`]: p, [`keys.${l}`]: { dtype: "float32", shape: right[0], data: keys }, [`values.${l}`]: { dtype: "float32", shape: right[1], data: values } });
      // The same cache in the other layout: each (row, kv head)'s keys [hd, C] -> [C, hd], values [C, hd] -> [hd, C].
      Object.assign(cacheLeft, {
        [`q.${l}`]: q, [`p.${l}`]: p,
        [`keys.${l}`]: { dtype: "float32", shape: left[0], data: transposedLast2(keys, B * K, hd, C) },
        [`values.${l}`]: { dtype: "float32", shape: left[1], data: transposedLast2(values, B * K, C, hd) },
      });
    }
    const feedsOf = (f: AttentionForm) => (f === "cache left" ? cacheLeft : cacheRight);
    const cacheBytes = 2 * cfg.numLayers * B * K * C * hd * 4;
    const sessions = Object.fromEntries(await Promise.all(ATTENTION_FORMS.map(async (f) => [f, await OrtSession.create(productsGraph(cfg, shape, f), { threads })] as const))) as Record<AttentionForm, OrtSession>;
    try {
      // The same products every way, up to float32 rounding (the kernels sum each dot product in their own
      // order): every output within 1e-4 of the output's largest magnitude, against the first form's.
      const [a, ...others] = await Promise.all(ATTENTION_FORMS.map((f) => sessions[f].run(feedsOf(f))));
      for (const [j, b] of others.entries()) {
        for (const name of Object.keys(a)) {
          const [x, y] = [a[name].data as Float32Array, b[name].data as Float32Array];
          const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const worst = x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0) / scale;
          if (!(worst <= 1e-4)) throw new Error(`attention products: '${name}' differs between '${ATTENTION_FORMS[0]}' and '${ATTENTION_FORMS[j + 1]}' by ${worst} of its largest magnitude`);
        }
      }
      const seconds = Object.fromEntries(ATTENTION_FORMS.map((f) => [f, [] as number[]])) as Record<AttentionForm, number[]>;
      for (let run = 0; run < runs; run++) {
        const order = ATTENTION_FORMS.map((_, i) => ATTENTION_FORMS[(i + run) % ATTENTION_FORMS.length]);
        for (const f of order) seconds[f].push(await medianRunSeconds(sessions[f], feedsOf(f), reps));
      }
      const forms = Object.fromEntries(ATTENTION_FORMS.map((f) => [f, {
        seconds: summarize(seconds[f]), gbPerS: summarize(seconds[f].map((s) => cacheBytes / s / 1e9)),
      }])) as AttentionCase["forms"];
      const over = (f: AttentionForm, g: AttentionForm) => summarize(seconds[f].map((s, i) => s / seconds[g][i]));
      const oneRowSpeedup = over("several rows", "one row");
      const cacheLeftSpeedup = { overSeveralRows: over("several rows", "cache left"), overOneRow: over("one row", "cache left") };
      out.push({ ...shape, cacheBytes, forms, oneRowSpeedup, cacheLeftSpeedup });
      const said = ATTENTION_FORMS.map((f) => `${f} ${(forms[f].seconds.median * 1000).toFixed(2)} ms (${forms[f].gbPerS.median.toFixed(1)} GB/s)`);
      console.log(`  attention products, batch ${B}, ${C} slots (${(cacheBytes / 1e6).toFixed(0)} MB of cache): ${said.join(", ")}; ` +
        `cache left ${cacheLeftSpeedup.overSeveralRows.median.toFixed(2)}x several rows, ${cacheLeftSpeedup.overOneRow.median.toFixed(2)}x one row`);
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
