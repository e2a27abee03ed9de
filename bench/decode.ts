// `npm run bench -- decode [--size real|tiny] [--runs N] [--torch on|off]` (issue 22): greedy decode on the CPU,
// three engines in one run on the same weights, prompts and thread count:
// - ours "in-place": OnnxDecoder with the KV cache held in the layout attention reads, written in place one
//   step at a time (the default since issue 22);
// - ours "concat": the decomposed graph from before, which concatenates and transposes the cache every step;
// - PyTorch CPU eager written as PyTorch's best practice (bench/lib/torch_decode_cpu.py: a preallocated cache
//   written in place, grouped-query attention without copying K/V, inference_mode).
// Part 1, tokens/s over the whole generation (prefill + 256 new tokens from a 64-token prompt, the wall clock of
// generate()): the 25M config of bench/model.ts at batch 1 / 16 / 64, 3 runs, and a Qwen2.5-0.5B-shaped model at
// batch 1 / 16, 2 runs; each run times every engine (in a rotating order) and the ratios are taken within it.
// Part 2, step time vs position: 25M at batch 16, 1,024 new tokens; the median decoder step over P in
// [112, 144) and [1008, 1040) (P = cache positions before the step), 2 runs.
// Part 3, a rollout actor's call (bench/lib/decode-rollout.ts): 16 prompts x G = 8 sampled responses of mixed
// lengths (stop tokens, up to 512 new tokens), 32 rows at a time: before issue 22 (concat decoder, consecutive
// batches) vs in-place + continuous batching; tokens/s and row occupancy, 2 runs.
// Part 4, the two attention products alone (the only readers of the cache) at three attention geometries
// (G = 2, 4, 7 query heads per kv head), in the two forms the decoder chooses between by G, and onnxruntime's
// streaming read rate beside them: how fast the step reads its cache against how fast this machine can
// (bench/lib/decode-attention.ts), 5 runs.
// Goals (issue 22): in-place >= 3x PyTorch at 25M batch 16 and 64, >= 1.5x at 0.5B batch 16; in-place step at
// P ≈ 1024 <= 1.3x the step at P ≈ 128. `--size tiny` is the smoke form (small models, short generations,
// about 10 s); `--runs N` sets every part's runs; `--torch off` leaves PyTorch out. The whole run takes about 20
// minutes on 2 cores (0.5B at batch 16 is 1-2 minutes per engine), so it runs by name only (scripts/bench.mjs).
// Writes bench/results/decode.json (decode-tiny.json at --size tiny).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type OnnxDecoder, type Weights, initModel, parameterCount } from "@lspo/model";
import { startProvenance } from "@lspo/telemetry";
import { type DecodeModel, type DecodeSetup, ENGINES, type Engine, type Size, randomPrompts, setupFor } from "./lib/decode-models.js";
import { type OurEngine, ourDecoder, timeOurs } from "./lib/decode-ours.js";
import { type Generation, type Step, profileOf, windowOf } from "./lib/decode-timing.js";
import { type RolloutGeneration, rolloutSequences, timeRollout } from "./lib/decode-rollout.js";
import { type AttentionGeometry, streamingReadRate, timeAttention } from "./lib/decode-attention.js";
import { type TorchRun, type WeightsFile, runTorchPeer, writeWeightsFile } from "./lib/decode-torch.js";
import { torchPython } from "./lib/model-scale-torch.js";
import { judgeGoal, machine, summarize, type Summary } from "./lib/stats.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });
const loadStart = loadavg()[0];
const started = performance.now();

const { values } = parseArgs({
  options: { size: { type: "string", default: "real" }, runs: { type: "string" }, torch: { type: "string", default: "on" } },
});
const size = values.size as Size;
if (!["real", "tiny"].includes(size)) throw new Error(`--size must be real or tiny, got '${values.size}'`);
if (!["on", "off"].includes(values.torch!)) throw new Error(`--torch must be on or off, got '${values.torch}'`);
const runsFlag = values.runs === undefined ? undefined : Number(values.runs);
if (runsFlag !== undefined && !(Number.isInteger(runsFlag) && runsFlag >= 1)) throw new Error(`--runs must be a positive integer, got '${values.runs}'`);
const setup = setupFor(size, runsFlag);
// Every engine gets the same threads (bench/model.ts's count: the machine's cores, at most 16).
const THREADS = Math.min(availableParallelism(), 16);
const py = values.torch === "on" ? torchPython() : null;
const torchSkipped = values.torch === "off" ? "skipped: --torch off"
  : py ? null : "skipped: `import torch` fails for python3 and /usr/bin/python3 (apt-get install python3-torch)";
// What the peer reported about itself (torch version, threads, BLAS), kept from its last run.
const torchSeen: { info: Omit<TorchRun, "generations" | "loadSeconds"> | null } = { info: null };
const torchErrors: string[] = [];

/** ENGINES rotated by `run`, so no engine always goes first (a drift in the shared machine's load then favours none). */
const orderOf = (run: number): Engine[] => ENGINES.map((_, i) => ENGINES[(i + run) % ENGINES.length]);
const rowsIdentical = (a: number[][], b: number[][] | null) => (b ? a.filter((row, i) => row.join() === b[i]?.join()).length : null);
const ms = (s: number) => (s * 1000).toFixed(1);

/** The peer on `generations`, or null (skipped, or failed: the error is recorded and the bench goes on). */
function torchPeer(cfg: DecodeModel["cfg"], wf: WeightsFile | null, generations: Parameters<typeof runTorchPeer>[4]): TorchRun | null {
  if (!py || !wf) return null;
  try {
    const r = runTorchPeer(py, cfg, wf, THREADS, generations);
    torchSeen.info = { torch: r.torch, threads: r.threads, blas: r.blas };
    return r;
  } catch (err) {
    torchErrors.push((err as Error).message);
    console.log(`  PyTorch peer failed: ${(err as Error).message}`);
    return null;
  }
}

interface BatchRun {
  run: number;
  order: Engine[];
  generations: Record<Engine, Generation | null>;
  /** Rows whose greedy tokens equal in-place's (the same model computed three ways). */
  rowsIdenticalToInPlace: { concat: number; torch: number | null };
  inPlaceOverTorch: number | null;
  inPlaceOverConcat: number;
}

async function tokensPart(model: DecodeModel, decoders: Record<OurEngine, OnnxDecoder>, wf: WeightsFile | null) {
  const { cfg, batches } = model;
  const prompts = new Map(batches.map((B) => [B, randomPrompts(B, setup.prompt, cfg.vocabSize, 1000 + B)]));
  const runs = new Map<number, BatchRun[]>(batches.map((B) => [B, []]));
  for (let run = 0; run < model.runs; run++) {
    const order = orderOf(run);
    const got: Record<Engine, Map<number, { generation: Generation; tokens: number[][] | null }>> = { "in-place": new Map(), concat: new Map(), torch: new Map() };
    for (const engine of order) {
      if (engine === "torch") {
        const r = torchPeer(cfg, wf, batches.map((B) => ({ prompts: prompts.get(B)!, newTokens: setup.newTokens, tokens: true })));
        r?.generations.forEach((g, i) => got.torch.set(batches[i], g));
      } else {
        for (const B of batches) got[engine].set(B, await timeOurs(decoders[engine], prompts.get(B)!, setup.newTokens));
      }
    }
    for (const B of batches) {
      const [ip, cc, th] = [got["in-place"].get(B)!, got.concat.get(B)!, got.torch.get(B) ?? null];
      const r: BatchRun = {
        run, order,
        generations: { "in-place": ip.generation, concat: cc.generation, torch: th?.generation ?? null },
        rowsIdenticalToInPlace: { concat: rowsIdentical(ip.tokens!, cc.tokens)!, torch: rowsIdentical(ip.tokens!, th?.tokens ?? null) },
        inPlaceOverTorch: th ? ip.generation.tokensPerS / th.generation.tokensPerS : null,
        inPlaceOverConcat: ip.generation.tokensPerS / cc.generation.tokensPerS,
      };
      runs.get(B)!.push(r);
      const tps = (g: Generation | null) => (g ? g.tokensPerS.toFixed(0) : "-");
      console.log(`  ${model.name} batch ${B} run ${run + 1}: tokens/s in-place ${tps(ip.generation)}, concat ${tps(cc.generation)}, torch ${tps(th?.generation ?? null)}` +
        `; in-place / torch ${r.inPlaceOverTorch?.toFixed(2) ?? "-"}x, / concat ${r.inPlaceOverConcat.toFixed(2)}x` +
        `; identical rows: concat ${r.rowsIdenticalToInPlace.concat}/${B}, torch ${r.rowsIdenticalToInPlace.torch ?? "-"}/${B}`);
    }
  }
  return batches.map((B) => {
    const rs = runs.get(B)!;
    const of = (e: Engine) => (rs.every((r) => r.generations[e]) ? summarize(rs.map((r) => r.generations[e]!.tokensPerS)) : null);
    const torchRatios = rs.every((r) => r.inPlaceOverTorch !== null) ? summarize(rs.map((r) => r.inPlaceOverTorch!)) : null;
    return {
      batch: B,
      tokensPerS: { "in-place": of("in-place")!, concat: of("concat")!, torch: of("torch") },
      inPlaceOverTorch: torchRatios,
      inPlaceOverConcat: summarize(rs.map((r) => r.inPlaceOverConcat)),
      runs: rs,
    };
  });
}

interface PositionEngineRun {
  tokensPerS: number;
  /** Decode step seconds in each window, and their medians. */
  near: number[];
  far: number[];
  nearMedianSeconds: number;
  farMedianSeconds: number;
  farOverNear: number;
  /** Median step per 64 positions. */
  profile: { from: number; medianSeconds: number }[];
}

async function positionPart(model: DecodeModel, decoders: Record<OurEngine, OnnxDecoder>, wf: WeightsFile | null) {
  const p = setup.position;
  const prompts = randomPrompts(p.batch, p.prompt, model.cfg.vocabSize, 2000 + p.batch);
  const windows = { near: [p.near - p.halfWidth, p.near + p.halfWidth], far: [p.far - p.halfWidth, p.far + p.halfWidth] };
  const runs: { run: number; order: Engine[]; engines: Record<Engine, PositionEngineRun | null> }[] = [];
  for (let run = 0; run < p.runs; run++) {
    const order = orderOf(run);
    const engines: Record<Engine, PositionEngineRun | null> = { "in-place": null, concat: null, torch: null };
    for (const engine of order) {
      let g: { generation: Generation; steps: Step[] } | null;
      if (engine === "torch") g = torchPeer(model.cfg, wf, [{ prompts, newTokens: p.newTokens }])?.generations[0] ?? null;
      else g = await timeOurs(decoders[engine], prompts, p.newTokens);
      if (!g) continue;
      const near = windowOf(g.steps, windows.near[0], windows.near[1]);
      const far = windowOf(g.steps, windows.far[0], windows.far[1]);
      const [n, f] = [summarize(near).median, summarize(far).median];
      engines[engine] = { tokensPerS: g.generation.tokensPerS, near, far, nearMedianSeconds: n, farMedianSeconds: f, farOverNear: f / n, profile: profileOf(g.steps, 64) };
      console.log(`  ${model.name} batch ${p.batch}, ${p.newTokens} new tokens, run ${run + 1}, ${engine}: step ${ms(n)} ms at P ≈ ${p.near}, ${ms(f)} ms at P ≈ ${p.far} (${(f / n).toFixed(2)}x); ${g.generation.tokensPerS.toFixed(0)} tokens/s`);
    }
    runs.push({ run, order, engines });
  }
  const of = (e: Engine, k: "nearMedianSeconds" | "farMedianSeconds" | "farOverNear") =>
    runs.every((r) => r.engines[e]) ? summarize(runs.map((r) => r.engines[e]![k])) : null;
  const summary = Object.fromEntries(ENGINES.map((e) => [e, of(e, "farOverNear") && {
    nearStepSeconds: of(e, "nearMedianSeconds")!, farStepSeconds: of(e, "farMedianSeconds")!, farOverNear: of(e, "farOverNear")!,
  }])) as Record<Engine, { nearStepSeconds: Summary; farStepSeconds: Summary; farOverNear: Summary } | null>;
  return { ...p, windows, summary, runs };
}

/** Part 3: the same sequences before issue 22 (concat, batches) and with in-place + continuous batching. */
async function rolloutPart(model: DecodeModel, decoders: Record<OurEngine, OnnxDecoder>) {
  const w = setup.rollout;
  const seqs = rolloutSequences(w, model.cfg.vocabSize, 31);
  const paths = { "before issue 22": decoders.concat, "in-place + continuous": decoders["in-place"] } as const;
  type Path = keyof typeof paths;
  const runs: { run: number; order: Path[]; paths: Record<Path, Omit<RolloutGeneration, "sequences">>; identicalSequences: number; speedup: number }[] = [];
  for (let run = 0; run < w.runs; run++) {
    const order = (Object.keys(paths) as Path[]).sort((a, b) => (run % 2 ? b.localeCompare(a) : a.localeCompare(b)));
    const got = {} as Record<Path, RolloutGeneration>;
    for (const p of order) got[p] = await timeRollout(paths[p], seqs, w, 5 + run);
    const [a, b] = [got["before issue 22"], got["in-place + continuous"]];
    const identical = a.sequences.filter((s, i) => s.join() === b.sequences[i].join()).length;
    const strip = ({ sequences: _, ...g }: RolloutGeneration) => g;
    runs.push({ run, order, paths: { "before issue 22": strip(a), "in-place + continuous": strip(b) }, identicalSequences: identical, speedup: b.tokensPerS / a.tokensPerS });
    console.log(`  rollout call run ${run + 1}: ${seqs.length} sequences, ${b.tokens} tokens (lengths ${Math.min(...b.lengths)}–${Math.max(...b.lengths)}); ` +
      `before ${a.tokensPerS.toFixed(0)} tokens/s (occupancy ${a.rowOccupancy.toFixed(2)}), in-place + continuous ${b.tokensPerS.toFixed(0)} (${b.rowOccupancy.toFixed(2)}); ` +
      `${(b.tokensPerS / a.tokensPerS).toFixed(2)}x; identical sequences ${identical}/${seqs.length}`);
  }
  const of = (p: Path, k: "tokensPerS" | "rowOccupancy" | "seconds") => summarize(runs.map((r) => r.paths[p][k]));
  return {
    ...w, model: model.name, sequences: seqs.length,
    summary: Object.fromEntries((Object.keys(paths) as Path[]).map((p) => [p, { tokensPerS: of(p, "tokensPerS"), rowOccupancy: of(p, "rowOccupancy"), seconds: of(p, "seconds") }])),
    speedup: summarize(runs.map((r) => r.speedup)),
    runs,
  };
}

interface ModelResult {
  name: string;
  params: number;
  config: DecodeModel["cfg"];
  runs: number;
  batches: Awaited<ReturnType<typeof tokensPart>>;
  seconds: number;
}

const work = mkdtempSync(join(tmpdir(), "lspo-decode-"));
const models: ModelResult[] = [];
let position: Awaited<ReturnType<typeof positionPart>> | null = null;
let rollout: Awaited<ReturnType<typeof rolloutPart>> | null = null;
let attention: {
  geometries: { name: string; geometry: AttentionGeometry; cases: Awaited<ReturnType<typeof timeAttention>> }[];
  streamingRead: Awaited<ReturnType<typeof streamingReadRate>>;
} | null = null;
try {
  for (const model of setup.models) {
    const t0 = performance.now();
    const { cfg } = model;
    console.log(`\n${model.name}: ${(parameterCount(cfg) / 1e6).toFixed(1)}M params (vocab ${cfg.vocabSize}, D ${cfg.hiddenSize}, L ${cfg.numLayers}, H ${cfg.numHeads}/${cfg.numKvHeads}), ${THREADS} threads`);
    const w: Weights = initModel(cfg, 0);
    const decoders = { "in-place": await ourDecoder(cfg, w, "in-place", THREADS), concat: await ourDecoder(cfg, w, "concat", THREADS) };
    const wf = py ? writeWeightsFile(w, join(work, `${model.name}.f32`)) : null;
    try {
      // Session start-up and first-call costs outside the timings (the peer warms itself up the same way).
      for (const d of Object.values(decoders)) await timeOurs(d, randomPrompts(1, 8, cfg.vocabSize, 7), 4);
      const batches = await tokensPart(model, decoders, wf);
      if (model.name === setup.position.model) position = await positionPart(model, decoders, wf);
      if (model === setup.models[0]) rollout = await rolloutPart(model, decoders);

      models.push({ name: model.name, params: parameterCount(cfg), config: cfg, runs: model.runs, batches, seconds: (performance.now() - t0) / 1000 });
    } finally {
      for (const d of Object.values(decoders)) await d.release();
      if (wf) rmSync(wf.path, { force: true });
    }
  }
  const a = setup.attention;
  console.log(`\nthe attention products alone, ${a.runs} runs of ${a.reps} steps`);
  const geometries = [];
  for (const { name, geometry, shapes } of a.geometries) {
    console.log(`  ${name}: ${geometry.numHeads} query heads, ${geometry.numKvHeads} kv heads of ${geometry.headDim}, ${geometry.numLayers} layers`);
    geometries.push({ name, geometry, cases: await timeAttention(geometry, shapes, THREADS, a.runs, a.reps) });
  }
  attention = { geometries, streamingRead: await streamingReadRate(a.streamBytes, THREADS, a.reps) };
} finally {
  rmSync(work, { recursive: true, force: true });
}

const torchMissing = torchSkipped ?? (torchErrors.length ? `failed: ${torchErrors[0]}` : null);
function goalResult(g: DecodeSetup["goals"][number]) {
  if (g.kind === "flat-steps") {
    const s = position?.summary["in-place"]?.farOverNear ?? null;
    return {
      ...g,
      goal: `ours in-place: decode step at P ≈ ${setup.position.far} at most ${g.atMost}x the step at P ≈ ${setup.position.near} (${setup.position.model}, batch ${setup.position.batch})`,
      measured: s,
      verdict: s ? judgeGoal(s, g.atMost, false) : "not measured",
    };
  }
  const b = models.find((m) => m.name === g.model)?.batches.find((x) => x.batch === g.batch);
  const s = b?.inPlaceOverTorch ?? null;
  return {
    ...g,
    goal: `ours in-place at least ${g.atLeast}x PyTorch CPU eager, tokens/s (${g.model}, batch ${g.batch})`,
    measured: s,
    verdict: s ? judgeGoal(s, g.atLeast) : `not measured (PyTorch ${torchMissing ?? "missing"})`,
  };
}
const goals = setup.goals.map(goalResult);

console.log("\nsummary: tokens/s, median (min–max)");
const f = (s: Summary | null, d = 0, unit = "") => (s ? `${s.median.toFixed(d)}${unit} (${s.min.toFixed(d)}–${s.max.toFixed(d)})` : "-");
for (const m of models) {
  for (const b of m.batches) {
    console.log(`  ${m.name} batch ${b.batch}: in-place ${f(b.tokensPerS["in-place"])}, concat ${f(b.tokensPerS.concat)}, torch ${f(b.tokensPerS.torch)}; in-place / torch ${f(b.inPlaceOverTorch, 2, "x")}, / concat ${f(b.inPlaceOverConcat, 2, "x")}`);
  }
}
for (const g of goals) console.log(`goal: ${g.goal}: ${g.verdict}${g.measured ? ` (${f(g.measured, 2, "x")})` : ""}`);

const flags = [size !== "real" ? `--size ${size}` : "", runsFlag !== undefined ? `--runs ${runsFlag}` : "", values.torch === "off" ? "--torch off" : ""].filter(Boolean).join(" ");
const result = {
  benchmark: "decode",
  command: `npm run bench -- decode${flags ? ` ${flags}` : ""}`,
  date: new Date().toISOString(),
  machine: { ...machine(), threads: THREADS, loadAverage1m: { start: loadStart, end: loadavg()[0] } },
  provenance: provenance.finish(),
  size,
  setup: {
    prompt: setup.prompt,
    newTokens: setup.newTokens,
    threads: THREADS,
    weights: "initModel(config, 0): random, the same for every engine (PyTorch reads ours from a raw float32 file)",
    prompts: "seeded random ids, equal lengths (no padding), the same for every engine",
    sampling: "greedy; no stop tokens, so every row generates every token",
    engines: {
      "in-place": "OnnxDecoder kvCache \"in-place\" through generate()",
      concat: "OnnxDecoder kvCache \"concat\" through generate()",
      torch: "bench/lib/torch_decode_cpu.py: PyTorch CPU eager, preallocated cache written in place, GQA without K/V copies, inference_mode",
    },
    metric:
      "tokens/s = batch x new tokens / wall clock of the whole generation (prefill, decode steps, sampling); " +
      "per run every engine generates once per batch (rotating order), ratios are taken within a run; " +
      "median (min–max) over runs; step times are the decoder call alone (ours: generate()'s onStep; PyTorch: its forward + argmax)",
  },
  torch: torchSkipped ? { status: torchSkipped }
    : { status: torchErrors.length ? "measured, with failures" : "measured", python: py, ...torchSeen.info, errors: torchErrors },
  models,
  position,
  rollout,
  attention: attention && { runs: setup.attention.runs, reps: setup.attention.reps, ...attention },
  goals,
  seconds: (performance.now() - started) / 1000,
};
const out = join(import.meta.dirname, "results", size === "real" ? "decode.json" : `decode-${size}.json`);
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nwrote ${out} in ${result.seconds.toFixed(0)} s`);
