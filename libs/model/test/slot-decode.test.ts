// The in-place decode path (issue 22): a KV cache held in the layout attention reads (SlotKvCache), read by the
// decode graph without a copy, against the time-major cache and the decomposed graph that concatenates it, the
// float64 reference, and transformers' own logits.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { KvCache } from "../src/generate/kv-cache.js";
import { SlotKvCache } from "../src/generate/slot-kv-cache.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { decodeEntry, parseSafetensors } from "../src/hf/safetensors.js";
import { initModel } from "../src/init.js";
import { inferenceGraph, slotDecodeGraph, slotName } from "../src/llama/graphs.js";
import { headWeight } from "../src/llama/decoder.js";
import { expectedParameters } from "../src/hf/params.js";
import type { Graph } from "../src/graph/graph.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import type { Tensor } from "../src/tensor.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";
import { TINY_QWEN2 } from "./support/tiny-qwen2.js";

const base: LlamaConfig = TINY_QWEN2;
const FAMILIES: Record<string, LlamaConfig> = {
  "qwen2 (GQA, q/k/v bias)": base,
  "qwen3 (q/k norm, 4 kv heads of 4)": { ...base, modelType: "qwen3", attentionBias: false, qkNorm: true, numKvHeads: 4 },
  "llama (one kv head)": { ...base, modelType: "llama", attentionBias: false, numKvHeads: 1, tieWordEmbeddings: false },
  "llama (8 query heads per kv head)": { ...base, modelType: "llama", attentionBias: false, hiddenSize: 32, numHeads: 8, numKvHeads: 1, headDim: 4 },
};
const prompts = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16], [17], [18, 19, 20, 21], [22, 23]];

function weightsFor(c: LlamaConfig) {
  const w = initModel(c, 3, { initializerRange: 0.3 });
  for (const [name, t] of w) if (name.endsWith(".bias")) t.data.forEach((_, i) => (t.data[i] = 0.1 * Math.sin(i + name.length)));
  return w;
}

/** max |a - b| / max(1, |b|) over two arrays. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

/** A step's keys and values [T, B, Hkv, hd] made of distinct numbers, so a misplaced write shows. */
function slice(T: number, B: number, K: number, hd: number, layers: number, from: number) {
  const make = (o: number): Tensor<"float32">[] =>
    Array.from({ length: layers }, (_, l) => ({ dtype: "float32", shape: [T, B, K, hd], data: Float32Array.from({ length: T * B * K * hd }, (_, i) => from + o + l * 1e5 + i) }));
  return { newKeys: make(0), newValues: make(0.5) };
}

describe("SlotKvCache - the layout attention reads", () => {
  it("holds exactly what the time-major cache holds, through a prefill, steps, growth past its capacity and row gathers", () => {
    const [layers, B, K, hd] = [2, 3, 2, 4];
    const slots = new SlotKvCache(layers, B, K, hd, 5, 40);
    const times = new KvCache(layers, B, K, hd, 5, 40);
    const both = (s: ReturnType<typeof slice>) => (slots.append(s), times.append(s));
    both(slice(4, B, K, hd, layers, 0));
    for (let t = 0; t < 9; t++) both(slice(1, B, K, hd, layers, 1000 * (t + 1))); // grows 5 -> 8 -> 12 -> 18
    slots.keepRows([2, 0, 0]);
    times.keepRows([2, 0, 0]);
    for (let t = 0; t < 3; t++) both(slice(1, 3, K, hd, layers, 50_000 + 1000 * t));
    expect(slots.P).toBe(16);
    const s = slots.past(), m = times.past();
    expect(s.layout).toBe("slots");
    const C = s.keys[0].shape[2];
    expect(C).toBeGreaterThanOrEqual(16);
    expect(s.keys[0].shape).toEqual([3, K, C, hd]);
    expect(s.values[0].shape).toEqual([3, K, C, hd]);
    for (let l = 0; l < layers; l++) {
      const host = (t: (typeof s.keys)[number]) => (t as Tensor<"float32">).data; // host caches: plain tensors
      const [sk, sv, mk, mv] = [host(s.keys[l]), host(s.values[l]), host(m.keys[l]), host(m.values[l])];
      for (let t = 0; t < 16; t++) {
        for (let b = 0; b < 3; b++) {
          for (let h = 0; h < K; h++) {
            for (let d = 0; d < hd; d++) {
              const at = ((t * 3 + b) * K + h) * hd + d;
              expect(sk[((b * K + h) * C + t) * hd + d]).toBe(mk[at]);
              expect(sv[((b * K + h) * C + t) * hd + d]).toBe(mv[at]);
            }
          }
        }
      }
    }
  });

  it("feeds the prefill an empty time-major past, and refuses to grow past its limit", () => {
    const c = new SlotKvCache(1, 2, 1, 2, 3, 4);
    const p = c.past();
    expect(p.layout).toBeUndefined();
    expect(p.keys[0].shape).toEqual([0, 2, 1, 2]);
    c.append(slice(4, 2, 1, 2, 1, 0));
    expect(() => c.append(slice(1, 2, 1, 2, 1, 0))).toThrow(/SlotKvCache: 5 steps exceed the limit of 4/);
  });
});

describe("slot decode graph - reads the cache in place", () => {
  // The keys are the left operand of their product (K q^T: onnxruntime reads the left operand where it lies and
  // packs the right one), the values the right operand of p V with one row per product where G <= 2.
  const slotNames = (config: LlamaConfig, kind: "key" | "value") => new Set(Array.from({ length: config.numLayers }, (_, i) => slotName(i, kind)));

  it("consumes every slot input only in a MatMul where G > 2: the keys as the left operand of one product of the G query rows, the values as the right one; no Concat, Transpose, Expand or copy of the cache per step", () => {
    const config = FAMILIES["llama (8 query heads per kv head)"];
    const g = slotDecodeGraph(config);
    for (const kind of ["key", "value"] as const) {
      const names = slotNames(config, kind);
      const readers = g.nodes.filter((n) => n.inputs.some((v) => v && names.has(v.name)));
      expect(readers.length).toBe(config.numLayers);
      expect(new Set(readers.map((n) => n.op))).toEqual(new Set(["MatMul"]));
      for (const p of readers) {
        const [cache, other] = kind === "key" ? [p.inputs[0]!, p.inputs[1]!] : [p.inputs[1]!, p.inputs[0]!];
        expect(names.has(cache.name)).toBe(true);
        expect(kind === "key" ? other.shape.at(-1) : other.shape.at(-2)).toBe(8); // the G query rows
      }
    }
  });

  it("consumes every slot input only in a one-row MatMul, through an Unsqueeze (a view), where G <= 2: the keys as the left operand times one query column, the values as the right operand of one row; no Concat, Transpose, Expand or copy of the cache per step", () => {
    const g = slotDecodeGraph(base);
    const readersOf = (names: Set<string>) => g.nodes.filter((n) => n.inputs.some((v) => v && names.has(v.name)));
    for (const kind of ["key", "value"] as const) {
      const views = readersOf(slotNames(base, kind));
      expect(views.length).toBe(base.numLayers);
      expect(new Set(views.map((n) => n.op))).toEqual(new Set(["Unsqueeze"])); // onnxruntime aliases its output to its input
      const viewNames = new Set(views.map((n) => n.outputs[0].name));
      const products = readersOf(viewNames);
      expect(products.length).toBe(base.numLayers);
      expect(new Set(products.map((n) => n.op))).toEqual(new Set(["MatMul"]));
      for (const p of products) {
        // The cache's side, and the other operand one query column (keys) or one row of probabilities (values).
        const [cache, other] = kind === "key" ? [p.inputs[0]!, p.inputs[1]!] : [p.inputs[1]!, p.inputs[0]!];
        expect(viewNames.has(cache.name)).toBe(true);
        expect(kind === "key" ? other.shape.at(-1) : other.shape.at(-2)).toBe(1);
      }
    }
  });
});

describe("in-place decode - against the decomposed graph and the float64 reference", () => {
  for (const [name, config] of Object.entries(FAMILIES)) {
    it(`${name} - every decode step's logits within 1e-4 of the concat graph; greedy and sampled generation identical, past the cache's first capacity`, async () => {
      const weights = weightsFor(config);
      const inPlace = await OnnxDecoder.create(config, weights);
      const concat = await OnnxDecoder.create(config, weights, { kvCache: "concat" });
      expect(inPlace.kvCache).toBe("in-place");
      const logits = (dec: OnnxDecoder, into: Float32Array[]) => ({
        config, openCache: dec.openCache.bind(dec),
        step: async (input: Parameters<OnnxDecoder["step"]>[0]) => {
          const r = await dec.step(input);
          into.push(r.logits.data);
          return r;
        },
      });
      const a: Float32Array[] = [], b: Float32Array[] = [];
      // 150 new tokens: the cache starts with room for the prompts + 128 steps and grows once.
      const opts = { maxNewTokens: 150, stopTokenIds: [] };
      const ours = await generate(logits(inPlace, a), prompts, opts);
      const ref = await generate(logits(concat, b), prompts, opts);
      expect(ours.tokens).toEqual(ref.tokens);
      expect(a.length).toBe(150); // the prefill and 149 decode steps (the last token is sampled from the last step)
      let worst = 0;
      a.forEach((row, i) => (worst = Math.max(worst, maxRel(row, b[i]))));
      expect(worst).toBeLessThan(1e-4);
      ours.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - ref.logprobs[i][t])).toBeLessThan(1e-4)));
      // Sampled, with stop tokens (rows finish and the batch is compacted) and a group's shared prefill.
      const groups = [prompts[0], prompts[0], prompts[0], prompts[1], prompts[2], prompts[2]];
      const sampled = { maxNewTokens: 24, sampling: { temperature: 0.9, topK: 30, topP: 0.95 }, seed: 4, stopTokenIds: [2, 3, 4] };
      const s1 = await generate(inPlace, groups, sampled);
      const s2 = await generate(concat, groups, sampled);
      expect(s1.tokens).toEqual(s2.tokens);
      expect(s1.truncated).toEqual(s2.truncated);
      expect(s1.truncated.some((t) => !t)).toBe(true);
      await Promise.all([inPlace.release(), concat.release()]);
    });
  }

  it("decode-step logits through the slots match transformers' logits (fixture) within 1e-4", async () => {
    const config = parseConfigJson(fixtureText("config.json"));
    const weights = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, config);
    const ref = new Map([...parseSafetensors(fixtureBytes("reference.safetensors")).tensors].map(([k, e]) => [k, decodeEntry(e)]));
    const ids = ref.get("input_ids") as Tensor<"int64">;
    const want = ref.get("logits")!.data as Float32Array;
    const [B, T] = ids.shape;
    const V = config.vocabSize;
    const prefill = 4;
    const dec = await OnnxDecoder.create(config, weights);
    const cache = dec.openCache(B, { initial: prefill + 2, max: T })!;
    const int64 = (shape: number[], f: (b: number, t: number) => number | bigint): Tensor<"int64"> => ({
      dtype: "int64", shape, data: BigInt64Array.from({ length: shape[0] * shape[1] }, (_, i) => BigInt(f(Math.floor(i / shape[1]), i % shape[1]))),
    });
    let worst = 0;
    for (let t = 0; t < T; ) {
      const n = t === 0 ? prefill : 1;
      const past = cache.past();
      const out = await dec.step({
        inputIds: int64([B, n], (b, j) => ids.data[b * T + t + j]),
        positionIds: int64([B, n], (_, j) => t + j),
        attentionMask: int64([B, t + n], () => 1),
        pastKeys: past.keys, pastValues: past.values, pastLayout: past.layout,
      });
      cache.append(out);
      t += n;
      if (n === 1) {
        for (let b = 0; b < B; b++) {
          const at = (b * T + t - 1) * V;
          worst = Math.max(worst, maxRel(out.logits.data.subarray(b * V, (b + 1) * V), want.subarray(at, at + V)));
        }
      }
    }
    expect(cache.past().layout).toBe("slots");
    expect(worst).toBeLessThan(1e-4);
    await dec.release();
  });

  it("refuses slots it cannot read, naming the input", async () => {
    const weights = weightsFor(base);
    const concat = await OnnxDecoder.create(base, weights, { kvCache: "concat" });
    const dec = await OnnxDecoder.create(base, weights);
    const cache = dec.openCache(1, { initial: 4, max: 8 })!;
    const one = (v: number): Tensor<"int64"> => ({ dtype: "int64", shape: [1, 1], data: BigInt64Array.of(BigInt(v)) });
    const mask = (n: number): Tensor<"int64"> => ({ dtype: "int64", shape: [1, n], data: new BigInt64Array(n).fill(1n) });
    const p0 = cache.past();
    cache.append(await dec.step({ inputIds: one(5), positionIds: one(0), attentionMask: mask(1), pastKeys: p0.keys, pastValues: p0.values }));
    const p = cache.past();
    const step = { inputIds: one(6), positionIds: one(1), attentionMask: mask(2), pastKeys: p.keys, pastValues: p.values, pastLayout: p.layout };
    await expect(concat.step(step)).rejects.toThrow(/the past is in slots, but this decoder was made with kvCache "concat"/);
    await expect(dec.step({ ...step, attentionMask: mask(7) })).rejects.toThrow(/attentionMask is \[1,7\]: expected \[1, P \+ 1\] with 1 <= P <= 4 slots/);
    // The same numbers as [B, Hkv, hd, C] (the keys' layout before they took the values'), as a caller of that layout would pass them.
    const hdFirst = (ts: typeof p.keys) => ts.map((t) => ({ ...(t as Tensor<"float32">), shape: [1, 2, 8, 4] }));
    await expect(dec.step({ ...step, pastKeys: hdFirst(p.keys) })).rejects.toThrow(/pastKeys\[0\] is \[1,2,8,4\], expected \[1,2,C,8\] \(slots: \[B, Hkv, C, hd\]/);
    await expect(dec.step({ ...step, pastValues: hdFirst(p.values) })).rejects.toThrow(/pastValues\[0\] is \[1,2,8,4\], expected \[1,2,4,8\] \(slots: \[B, Hkv, C, hd\], the same C for every layer's keys and values\)/);
    await expect(dec.step({ ...step, slotLengths: Int32Array.of(9) })).rejects.toThrow(/slotLengths \[9\] must give each of 1 rows a length in \[0, 4\]/);
    await Promise.all([dec.release(), concat.release()]);
  });
});

describe("continuous batching - generate() with maxRows", () => {
  const config = base;
  const weights = weightsFor(config);
  // Two groups (G = 3) and lone prompts of mixed lengths; stop tokens end rows at different steps.
  const seqs = [prompts[0], prompts[0], prompts[0], prompts[1], prompts[2], prompts[3], prompts[3], prompts[3], prompts[4], prompts[5]];

  it("gives a finished row to the next waiting sequence, never decodes more than maxRows, and generates what one batch does", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    for (const sampling of [undefined, { temperature: 0.9, topK: 30, topP: 0.95 }]) {
      const opts = { maxNewTokens: 40, sampling, seed: sampling ? 8 : undefined, stopTokenIds: [2, 3, 4, 5] };
      const steps: { P: number; B: number; live: number }[] = [];
      const onceSteps: typeof steps = [];
      const cont = await generate(dec, seqs, { ...opts, maxRows: 3, onStep: (e) => steps.push(e) });
      const once = await generate(dec, seqs, { ...opts, onStep: (e) => onceSteps.push(e) });
      // Every live row of a decode step made one token (each sequence's first came from a prefill); the
      // batch-at-once run computed rows no sequence used (finished ones), continuous batching fewer.
      const made = once.tokens.reduce((n, t) => n + t.length, 0) - seqs.length;
      const sum = (xs: typeof steps, k: "B" | "live") => xs.filter((e) => e.P > 0).reduce((n, e) => n + e[k], 0);
      expect(sum(steps, "live")).toBe(made);
      expect(sum(onceSteps, "live")).toBe(made);
      expect(sum(onceSteps, "B")).toBeGreaterThan(made);
      expect(sum(steps, "B") / sum(steps, "live")).toBeLessThan(sum(onceSteps, "B") / sum(onceSteps, "live"));
      expect(cont.tokens).toEqual(once.tokens);
      expect(cont.truncated).toEqual(once.truncated);
      cont.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - once.logprobs[i][t])).toBeLessThan(1e-4)));
      expect(Math.max(...steps.map((s) => s.B))).toBeLessThanOrEqual(3);
      // Prompts were prefilled as rows freed up (more than one prefill call, each of its distinct prompts once)...
      const prefills = steps.filter((s) => s.P === 0);
      expect(prefills.length).toBeGreaterThan(1);
      expect(prefills.reduce((n, s) => n + s.B, 0)).toBeLessThanOrEqual(6); // 6 distinct prompts
      // ...and rows ended at different steps (stop tokens), so the batch-at-once run had rows idle in its batch.
      expect(new Set(once.tokens.map((t) => t.length)).size).toBeGreaterThan(1);
    }
    await dec.release();
  });

  it("rows of different lengths grow the slots past their first capacity without losing a row's past", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    const opts = { maxNewTokens: 170, stopTokenIds: [] };
    const cont = await generate(dec, seqs.slice(3, 8), { ...opts, maxRows: 2 });
    const once = await generate(dec, seqs.slice(3, 8), opts);
    expect(cont.tokens).toEqual(once.tokens);
    cont.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - once.logprobs[i][t])).toBeLessThan(1e-4)));
    await dec.release();
  });

  it("without slots (kvCache concat) generates in consecutive batches of maxRows, the same sequences", async () => {
    const dec = await OnnxDecoder.create(config, weights, { kvCache: "concat" });
    const widths: number[] = [];
    const opts = { maxNewTokens: 12, sampling: { temperature: 0.9, topK: 30, topP: 0.95 }, seed: 3, stopTokenIds: [] };
    const parts = await generate(dec, seqs, { ...opts, maxRows: 4, onStep: (e) => widths.push(e.B) });
    const once = await generate(dec, seqs, opts);
    expect(parts.tokens).toEqual(once.tokens);
    expect(Math.max(...widths)).toBe(4);
    await expect(generate(dec, seqs, { ...opts, maxRows: 0 })).rejects.toThrow(/maxRows must be a positive integer, got 0/);
    await dec.release();
  });
});

describe("continuous batching - against one batch over random workloads", () => {
  it("any width, prompt lengths, repeats and stop tokens: the same greedy sequences, and every sequence ends once", async () => {
    const weights = weightsFor(base);
    const dec = await OnnxDecoder.create(base, weights);
    let s = 12345;
    const rand = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % n);
    for (let trial = 0; trial < 6; trial++) {
      const distinct = Array.from({ length: 1 + rand(5) }, () => Array.from({ length: 1 + rand(12) }, () => 6 + rand(50)));
      const seqs = Array.from({ length: 2 + rand(10) }, () => distinct[rand(distinct.length)]);
      const stops = Array.from({ length: rand(4) }, () => 2 + rand(4));
      const opts = { maxNewTokens: 1 + rand(40), stopTokenIds: stops };
      const maxRows = 1 + rand(seqs.length);
      const cont = await generate(dec, seqs, { ...opts, maxRows });
      const once = await generate(dec, seqs, opts);
      expect(cont.tokens, `trial ${trial}: ${seqs.length} sequences, maxRows ${maxRows}, stops [${stops}]`).toEqual(once.tokens);
      expect(cont.truncated).toEqual(once.truncated);
      cont.tokens.forEach((t, i) => {
        const stopAt = t.findIndex((x) => stops.includes(x));
        expect(stopAt === -1 || stopAt === t.length - 1, `sequence ${i} ends at its first stop token`).toBe(true);
        expect(t.length).toBeLessThanOrEqual(opts.maxNewTokens);
      });
    }
    await dec.release();
  });
});

describe("slot decode - the weights as the left operand", () => {
  /** How `g` consumes the value named `name`: "<op>@<input index>" per use, embedding lookups left out. */
  const usesOf = (g: Graph, name: string) =>
    g.nodes.flatMap((n) => n.inputs.flatMap((v, i) => (v?.name === name && n.op !== "Gather" ? [`${n.op}@${i}`] : [])));

  it("a decode step multiplies every projection and the LM head as W x^T (MatMul, weight first); the prefill keeps x W^T (Gemm)", () => {
    for (const [family, cfg] of Object.entries(FAMILIES)) {
      const slot = slotDecodeGraph(cfg);
      const prefill = inferenceGraph(cfg);
      const head = headWeight(cfg, (n) => ({ name: n }) as never).name;
      const projections = [...expectedParameters(cfg).keys()].filter((n) => /_proj\.weight$/.test(n));
      expect(projections.length, family).toBe(7 * cfg.numLayers);
      for (const w of [...projections, head]) {
        expect(usesOf(slot, w), `${family}: ${w} in the decode step`).toEqual(["MatMul@0"]);
        expect(usesOf(prefill, w), `${family}: ${w} in the prefill`).toEqual(["Gemm@1"]);
      }
    }
  });

  it("the one-row forms (B = 1) multiply as x W^T (Gemm), the greedy and the sampling one alike", () => {
    for (const [family, cfg] of Object.entries(FAMILIES)) {
      const head = headWeight(cfg, (n) => ({ name: n }) as never).name;
      const projections = [...expectedParameters(cfg).keys()].filter((n) => /_proj\.weight$/.test(n));
      for (const greedy of [false, true]) {
        const g = slotDecodeGraph(cfg, { oneRow: true, greedy });
        for (const w of [...projections, head]) expect(usesOf(g, w), `${family}: ${w}, greedy ${greedy}`).toEqual(["Gemm@1"]);
      }
    }
  });

  it("a decoder runs the one-row forms for one row and the weight-first ones for several: the same tokens as concat", async () => {
    const cfg = base;
    const weights = weightsFor(cfg);
    const concat = await OnnxDecoder.create(cfg, weights, { kvCache: "concat" });
    for (const [rows, forms] of [
      [prompts.slice(0, 1), ["llama_slot_decode", "llama_slot_decode_greedy_one_row", "llama_slot_decode_one_row"]],
      [prompts.slice(0, 3), ["llama_slot_decode", "llama_slot_decode_greedy"]],
    ] as const) {
      const dec = await OnnxDecoder.create(cfg, weights);
      const greedy = { maxNewTokens: 20, stopTokenIds: [] };
      const sampled = { ...greedy, sampling: { temperature: 0.9, topK: 0, topP: 1 }, seed: 5 };
      for (const opts of [greedy, sampled]) {
        const [ours, ref] = [await generate(dec, rows, opts), await generate(concat, rows, opts)];
        expect(ours.tokens).toEqual(ref.tokens);
        ours.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - ref.logprobs[i][t])).toBeLessThan(1e-4)));
      }
      expect(dec.slotGraphs.sort()).toEqual([...forms].sort());
      await dec.release();
    }
    await concat.release();
  });
});
