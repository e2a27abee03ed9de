// `npm run bench -- gemm-ceiling [--runs N]` (issue 22): how fast this machine runs a decode step's weight
// products, the part of a step no cache layout changes. Per decoder layer, seven products of the B rows
// with a weight matrix (q, k, v, o, gate, up, down), and the LM head once; 2 flops per weight and row.
// Each timed as onnxruntime runs them (2 threads like bench decode), in three ways:
// - fed: the weights are graph inputs, fed on every run (one session serves every policy version), as the
//   right operand (Gemm, x W^T, as OnnxDecoder's step did before 2026-12-07); MLAS then packs every weight
//   matrix into its panels on every run;
// - weight first: fed too, as the left operand (MatMul W x^T, then back to rows, as the in-place decode
//   step runs them now: llama/layers.ts linearWeightFirst); MLAS packs only x^T and reads the weights where
//   they lie;
// - prepacked: the weights are initializers, which onnxruntime packs once when the session is made, as the
//   right operand; a session that must be made again for each new policy version.
// A step's products run layer by layer, each layer a session of its own with its own weights (so they stream
// from memory as in a real step, and a 0.5B model's 2 GB need not fit one protobuf), then the LM head.
// Beside them, at 25M, our whole in-place decode step (slotDecodeGraph, 128 cache slots, weights fed).
// What it bounds: tokens/s can be at most B / (the products' time), before attention, norms, sampling or
// anything else. Beside it, the goal of issue 22 at that model and batch (3x PyTorch's tokens/s at 25M, 1.5x
// at 0.5B; PyTorch's figure from bench/results/decode.json, named with its commit) and the time per decode
// step the goal leaves: B / the goal's tokens/s.
// Models and batches: bench decode's 25M (batch 16, 64) and Qwen2.5-0.5B-shaped model (batch 16).
// Median over `reps` timed runs after warm-ups, per run; 5 runs, the order of the three ways rotating.
// Writes bench/results/gemm-ceiling.json. About 90 s on the 2-core machine (86 s at a625d66).
import { readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { Graph, INPUT, SLOT_BIAS, encodeModel, initModel, ops, slotDecodeGraph, slotName, type LlamaConfig, type Value } from "@lspo/model";
import { startProvenance } from "@lspo/telemetry";
import { setupFor, xorshift32 } from "./lib/decode-models.js";
import { machine, summarize, type Summary } from "./lib/stats.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });
const loadStart = loadavg()[0];
const started = performance.now();

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const RUNS = Number(values.runs);
if (!(Number.isInteger(RUNS) && RUNS >= 1)) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
const THREADS = 2; // bench decode's threads on this machine (its cores, at most 16)
const OUT = join(import.meta.dirname, "results/gemm-ceiling.json");
const DECODE = join(import.meta.dirname, "results/decode.json");

const models = setupFor("real").models;
const CASES = [
  { model: "25M", batch: 16, reps: 40 },
  { model: "25M", batch: 64, reps: 20 },
  { model: "0.5B", batch: 16, reps: 6 },
];

/** The [out, in] weight matrices (and q/k/v biases) of one decoder layer's products, and of the LM head. */
function shapesOf(c: LlamaConfig): { layer: Array<{ name: string; out: number; in: number; bias: boolean }>; head: { out: number; in: number } } {
  const D = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim, I = c.intermediateSize;
  const b = c.attentionBias;
  return {
    layer: [
      { name: "q", out: q, in: D, bias: b }, { name: "k", out: kv, in: D, bias: b }, { name: "v", out: kv, in: D, bias: b },
      { name: "o", out: D, in: q, bias: false }, { name: "gate", out: I, in: D, bias: false }, { name: "up", out: I, in: D, bias: false },
      { name: "down", out: D, in: I, bias: false },
    ],
    head: { out: c.vocabSize, in: D },
  };
}

/** Seeded values ~ U(-0.05, 0.05): no denormals, nothing the products could skip. */
function randomWeights(n: number, seed: number): Float32Array {
  const next = xorshift32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() / 2 ** 32 - 0.5) * 0.1;
  return out;
}

interface Products {
  session: ort.InferenceSession;
  /** Weights to feed on every run (fed, weight first), or none (prepacked: they are in the session). */
  feeds: Record<string, ort.Tensor>;
}

type Way = "fed" | "weightFirst" | "prepacked";
const WAYS: readonly Way[] = ["fed", "weightFirst", "prepacked"];

/**
 * One session over `mats` ([out, in] each, with an optional bias): every product of its B rows (input x_<in>)
 * with its matrix, each reduced to a sum, the sums added: one scalar out, so nothing is copied back but it.
 */
async function productsSession(mats: Array<{ name: string; out: number; in: number; w: Float32Array; b: Float32Array | null }>, B: number, way: Way): Promise<Products> {
  const prepacked = way === "prepacked";
  const g = new Graph("weight_products");
  const inputs = new Map<number, Value<"float32">>();
  /** x^T per input width, made once and shared by its products (as the decode step shares it). */
  const columns = new Map<number, Value<"float32">>();
  const feeds: Record<string, ort.Tensor> = {};
  let total: Value<"float32"> | null = null;
  for (const m of mats) {
    if (!inputs.has(m.in)) inputs.set(m.in, g.input(`x_${m.in}`, "float32", [B, m.in]));
    const weight = prepacked ? g.constant({ dtype: "float32", shape: [m.out, m.in], data: m.w }, m.name) : g.input(m.name, "float32", [m.out, m.in]);
    if (!prepacked) feeds[m.name] = new ort.Tensor("float32", m.w, [m.out, m.in]);
    let bias: Value<"float32"> | null = null;
    if (m.b) {
      bias = prepacked ? g.constant({ dtype: "float32", shape: [m.out], data: m.b }, `${m.name}_bias`) : g.input(`${m.name}_bias`, "float32", [m.out]);
      if (!prepacked) feeds[`${m.name}_bias`] = new ort.Tensor("float32", m.b, [m.out]);
    }
    const x = inputs.get(m.in)!;
    let y: Value<"float32">;
    if (way === "weightFirst") {
      if (!columns.has(m.in)) columns.set(m.in, ops.transpose(x, [1, 0]));
      y = ops.transpose(ops.matmul(weight, columns.get(m.in)!), [1, 0]); // back to rows [B, out]
      if (bias) y = ops.add(y, bias);
    } else {
      y = ops.gemm(x, weight, bias, { transB: true });
    }
    const s = ops.sumAll(y);
    total = total ? ops.add(total, s) : s;
  }
  g.output("total", total!);
  for (const [n] of inputs) feeds[`x_${n}`] = new ort.Tensor("float32", randomWeights(B * n, 7 + n), [B, n]);
  // A step is a session per layer, run one after another: a pool that spins after its run (onnxruntime's
  // default) would take the cores from the next session's.
  const session = await ort.InferenceSession.create(encodeModel(g), {
    executionProviders: ["cpu"], intraOpNumThreads: THREADS, graphOptimizationLevel: "all", logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
  return { session, feeds };
}

/** A step's products: one session per layer, then the LM head's. */
async function stepProducts(c: LlamaConfig, B: number, way: Way, weights: WeightSet): Promise<Products[]> {
  const out: Products[] = [];
  for (let l = 0; l < c.numLayers; l++) out.push(await productsSession(weights.layers[l], B, way));
  out.push(await productsSession([weights.head], B, way));
  return out;
}

interface WeightSet {
  layers: Array<Array<{ name: string; out: number; in: number; w: Float32Array; b: Float32Array | null }>>;
  head: { name: string; out: number; in: number; w: Float32Array; b: null };
  /** Weights in the products: the flops of a step are 2 x B x this. */
  params: number;
}

function weightSet(c: LlamaConfig): WeightSet {
  const s = shapesOf(c);
  let params = 0;
  const layers = Array.from({ length: c.numLayers }, (_, l) => s.layer.map((m, i) => {
    params += m.out * m.in;
    return { ...m, w: randomWeights(m.out * m.in, 1000 * l + i + 1), b: m.bias ? randomWeights(m.out, 5000 + 1000 * l + i) : null };
  }));
  params += s.head.out * s.head.in;
  return { layers, head: { name: "head", ...s.head, w: randomWeights(s.head.out * s.head.in, 99), b: null }, params };
}

/** Median ms of `reps` runs of the whole step's products (sessions in order), after two warm-ups. */
async function timeProducts(step: Products[], reps: number): Promise<number> {
  const once = async () => {
    for (const p of step) await p.session.run(p.feeds);
  };
  await once();
  await once();
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  return summarize(ms).median;
}

/** Our in-place decode step as OnnxDecoder runs it (weights fed), `slots` cache slots filled, median ms. */
async function timeSlotStep(c: LlamaConfig, B: number, slots: number, reps: number): Promise<number> {
  const w = initModel(c, 0);
  const session = await ort.InferenceSession.create(encodeModel(slotDecodeGraph(c)), { executionProviders: ["cpu"], intraOpNumThreads: THREADS, graphOptimizationLevel: "all", logSeverityLevel: 3 });
  const cache = (shape: number[]) => new ort.Tensor("float32", randomWeights(shape.reduce((a, b) => a * b, 1), 3), shape);
  const feeds: Record<string, ort.Tensor> = {
    [INPUT.ids]: new ort.Tensor("int64", BigInt64Array.from({ length: B }, (_, i) => BigInt(2 + i)), [B, 1]),
    [INPUT.positions]: new ort.Tensor("int64", new BigInt64Array(B).fill(BigInt(slots)), [B, 1]),
    [SLOT_BIAS]: new ort.Tensor("float32", new Float32Array(B * slots), [B, slots]),
  };
  for (let l = 0; l < c.numLayers; l++) {
    feeds[slotName(l, "key")] = cache([B, c.numKvHeads, slots, c.headDim]);
    feeds[slotName(l, "value")] = cache([B, c.numKvHeads, slots, c.headDim]);
  }
  for (const [n, t] of w) feeds[n] = new ort.Tensor("float32", t.data as Float32Array, t.shape as number[]);
  const ms: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (r >= 2) ms.push(performance.now() - t0);
  }
  await session.release();
  return summarize(ms).median;
}

/** Issue 22's goal for `model` at `batch` (a multiple of PyTorch's tokens/s), from bench decode's setup. */
function goalFor(model: string, batch: number): number | null {
  const g = setupFor("real").goals.find((x) => x.kind === "speedup" && x.model === model && x.batch === batch);
  return g && g.kind === "speedup" ? g.atLeast : null;
}

/** PyTorch's tokens/s in bench decode's last measurement, by model and batch, and that run's label. */
function decodeReference(): { label: string; torchTokensPerS: Record<string, number> } | null {
  try {
    const d = JSON.parse(readFileSync(DECODE, "utf8")) as { provenance: { label: string }; models: Array<{ name: string; batches: Array<{ batch: number; tokensPerS: { torch?: Summary } }> }> };
    const torchTokensPerS: Record<string, number> = {};
    for (const m of d.models) for (const b of m.batches) if (b.tokensPerS.torch) torchTokensPerS[`${m.name}/${b.batch}`] = b.tokensPerS.torch.median;
    return { label: d.provenance.label, torchTokensPerS };
  } catch {
    return null;
  }
}

const reference = decodeReference();
const rows = [];
for (const k of CASES) {
  const c = models.find((m) => m.name === k.model)!.cfg;
  const weights = weightSet(c);
  const sessions = {} as Record<Way, Products[]>;
  for (const way of WAYS) sessions[way] = await stepProducts(c, k.batch, way, weights);
  const ms = { fed: [] as number[], weightFirst: [] as number[], prepacked: [] as number[], slotStep: [] as number[] };
  for (let r = 0; r < RUNS; r++) {
    // The order rotates from run to run.
    for (let i = 0; i < WAYS.length; i++) {
      const way = WAYS[(r + i) % WAYS.length];
      ms[way].push(await timeProducts(sessions[way], k.reps));
    }
    if (k.model === "25M") ms.slotStep.push(await timeSlotStep(c, k.batch, 128, k.reps));
    console.log(`${k.model} batch ${k.batch} run ${r + 1}/${RUNS}: products fed ${ms.fed.at(-1)!.toFixed(2)} ms, weight first ${ms.weightFirst.at(-1)!.toFixed(2)} ms, prepacked ${ms.prepacked.at(-1)!.toFixed(2)} ms${ms.slotStep.length ? `, whole slot step ${ms.slotStep.at(-1)!.toFixed(2)} ms` : ""}`);
  }
  for (const p of WAYS.flatMap((way) => sessions[way])) await p.session.release();
  const flops = 2 * k.batch * weights.params;
  const gflops = (xs: number[]) => summarize(xs.map((t) => flops / (t / 1000) / 1e9));
  rows.push({
    model: k.model, batch: k.batch, params: weights.params, flopsPerStep: flops, reps: k.reps,
    productsFedMs: summarize(ms.fed), productsWeightFirstMs: summarize(ms.weightFirst), productsPrepackedMs: summarize(ms.prepacked),
    fedGflops: gflops(ms.fed), weightFirstGflops: gflops(ms.weightFirst), prepackedGflops: gflops(ms.prepacked),
    weightFirstSpeedup: summarize(ms.fed.map((t, i) => t / ms.weightFirst[i])),
    prepackedSpeedup: summarize(ms.fed.map((t, i) => t / ms.prepacked[i])),
    tokensPerSWeightFirst: summarize(ms.weightFirst.map((t) => k.batch / (t / 1000))),
    tokensPerSCeiling: summarize(ms.prepacked.map((t) => k.batch / (t / 1000))),
    slotStepMs: ms.slotStep.length ? summarize(ms.slotStep) : null,
    // The goal in tokens/s, and the time per decode step it leaves (B rows a step; prefill not counted).
    goal: (() => {
      const atLeast = goalFor(k.model, k.batch), torch = reference?.torchTokensPerS[`${k.model}/${k.batch}`];
      if (atLeast === null || torch === undefined) return null;
      return { atLeast, torchTokensPerS: torch, tokensPerS: atLeast * torch, stepBudgetMs: (k.batch / (atLeast * torch)) * 1000 };
    })(),
  });
}

const result = {
  benchmark: "gemm-ceiling",
  command: "npm run bench -- gemm-ceiling",
  date: new Date().toISOString(),
  machine: { ...machine(), loadAverage1m: { start: loadStart, end: loadavg()[0] } },
  provenance: provenance.finish(),
  setup: { threads: THREADS, runs: RUNS, slotStepSlots: 128 },
  decodeReference: reference,
  rows,
  seconds: (performance.now() - started) / 1000,
};
writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${OUT} (${result.seconds.toFixed(0)} s)`);
