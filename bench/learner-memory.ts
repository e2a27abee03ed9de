// `npm run bench -- learner-memory` (issue 16): what the learner's memory options buy, each variant a training
// step of the same model and batch in its own child process (peak RSS its own), beside the memory model's
// estimate (libs/model memory.ts):
// - every position scored (the LM head over the whole sequence, as before issue 16), with onnxruntime's memory
//   pattern (as before) and without (as now);
// - response positions scored only (the learner's default: TokenBatch.scoreMask);
// - + learner.recompute (each layer's activations recomputed in the backward pass);
// and a log-prob pass (forward only: old and reference log-probs) over the whole vocabulary at once vs in
// chunks of learner.vocabChunk entries.
// RL-shaped rows: a 128-token prompt and a 384-token response. Two steps after a warm-up; the median step time.
// Writes bench/results/learner-memory.json.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ForwardSession, GIB, type LlamaConfig, type LossBuilder, type TokenBatch, Trainer, initModel, learnerMemory, logprobPassMemory, makeTokenBatch, ops, parameterCount } from "@lspo/model";
import { startProvenance } from "@lspo/telemetry";
import { machine } from "./lib/stats.js";

const provenance = startProvenance({ ignore: /^bench\/results\// });

const cfg: LlamaConfig = {
  modelType: "qwen2", vocabSize: 32768, hiddenSize: 512, intermediateSize: 1408, numLayers: 6, numHeads: 8, numKvHeads: 2,
  headDim: 64, rmsNormEps: 1e-6, ropeTheta: 1e6, maxPositionEmbeddings: 4096, tieWordEmbeddings: true,
  attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const ROWS = 4;
const PROMPT = 128;
const RESPONSE = 384;
const THREADS = 2;
const CHUNK = 4096;

interface Variant {
  name: string;
  /** A training step, or a log-prob pass (forward only). */
  pass: "train" | "logprobs";
  scoreResponses: boolean;
  recompute: boolean;
  vocabChunk: number;
  /** onnxruntime's memory pattern (the learner's sessions run without it). */
  memoryPattern?: boolean;
}
const VARIANTS: Variant[] = [
  { name: "every position scored, onnxruntime's memory pattern on", pass: "train", scoreResponses: false, recompute: false, vocabChunk: 0, memoryPattern: true },
  { name: "every position scored", pass: "train", scoreResponses: false, recompute: false, vocabChunk: 0 },
  { name: "responses scored", pass: "train", scoreResponses: true, recompute: false, vocabChunk: 0 },
  { name: "responses scored + recompute", pass: "train", scoreResponses: true, recompute: true, vocabChunk: 0 },
  { name: "log-prob pass, whole vocabulary", pass: "logprobs", scoreResponses: true, recompute: false, vocabChunk: 0 },
  { name: `log-prob pass, vocabChunk ${CHUNK}`, pass: "logprobs", scoreResponses: true, recompute: false, vocabChunk: CHUNK },
];

const nll: LossBuilder = (ctx) => {
  const lm = ctx.input("loss_mask", "float32", ["B", "T"]);
  return { loss: ops.neg(ops.div(ops.sumAll(ops.mul(ctx.logprobs, lm)), ROWS * RESPONSE)) };
};

function rlBatch(v: Variant): TokenBatch {
  const T = PROMPT + RESPONSE;
  let s = 7;
  const seqs = Array.from({ length: ROWS }, () => Array.from({ length: T }, () => 2 + ((s = (s * 1103515245 + 12345) % 2147483648) % (cfg.vocabSize - 2))));
  const batch = makeTokenBatch(seqs, { padSide: "right" });
  // Position t predicts token t+1: the response is predicted from PROMPT-1 to T-2.
  const response = (i: number) => i % T >= PROMPT - 1 && i % T < T - 1;
  batch.extras = { loss_mask: { dtype: "float32", shape: [ROWS, T], data: Float32Array.from({ length: ROWS * T }, (_, i) => (response(i) ? 1 : 0)) } };
  if (v.scoreResponses) batch.scoreMask = { dtype: "int64", shape: [ROWS, T], data: BigInt64Array.from({ length: ROWS * T }, (_, i) => (response(i) ? 1n : 0n)) };
  return batch;
}

/** Child mode: one variant's passes; prints JSON (maxRSS is this process's own). */
async function child(v: Variant): Promise<void> {
  const batch = rlBatch(v);
  if (v.pass === "logprobs") {
    const w = initModel(cfg, 0);
    const f = await ForwardSession.create(cfg, { threads: THREADS, vocabChunk: v.vocabChunk });
    const times: number[] = [];
    let sum = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const lp = await f.logprobs(w, batch);
      if (i > 0) times.push((performance.now() - t0) / 1000);
      sum = lp.data.reduce((a, b) => a + b, 0);
    }
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ peakRssMiB: process.resourceUsage().maxRSS / 1024, stepSeconds: times, medianStepS: times[times.length >> 1], losses: [-sum / (ROWS * RESPONSE)] }));
    await f.release();
    return;
  }
  const t = await Trainer.create(cfg, initModel(cfg, 0), nll, {
    schedule: { kind: "constant", lr: 1e-4, warmupSteps: 0 }, threads: THREADS, adoptWeights: true, recompute: v.recompute, memoryPattern: v.memoryPattern ?? false,
  });
  const losses: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = await t.train([batch]);
    if (i > 0) times.push((performance.now() - t0) / 1000);
    losses.push(r.loss);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ peakRssMiB: process.resourceUsage().maxRSS / 1024, stepSeconds: times, medianStepS: times[times.length >> 1], losses }));
  await t.release();
}

const at = process.argv.indexOf("--variant");
if (at >= 0) {
  await child(VARIANTS[Number(process.argv[at + 1])]);
} else {
  const rows = VARIANTS.map((v, i) => {
    console.log(`${v.name} ...`);
    const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, "--variant", String(i)], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${v.name}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
    const m = JSON.parse(r.stdout.trim().split("\n").pop()!) as { peakRssMiB: number; stepSeconds: number[]; medianStepS: number; losses: number[] };
    const shape = { rows: ROWS, seq: PROMPT + RESPONSE, scored: v.scoreResponses ? RESPONSE : undefined, recompute: v.recompute, vocabChunk: v.vocabChunk };
    const estimate = v.pass === "train" ? learnerMemory(cfg, shape) : logprobPassMemory(cfg, shape);
    const row = { ...v, ...m, estimateMiB: estimate.bytes / 2 ** 20, estimateParts: Object.fromEntries(Object.entries(estimate.parts).map(([k, b]) => [k, b / 2 ** 20])), estimateOverMeasured: estimate.bytes / 2 ** 20 / m.peakRssMiB };
    console.log(`  peak ${(m.peakRssMiB / 1024).toFixed(2)} GiB (estimate ${(estimate.bytes / GIB).toFixed(2)}), step ${m.medianStepS.toFixed(2)} s`);
    return row;
  });
  // The options change where and when values are computed, not the numbers: every training variant's losses
  // agree, and so do the log-prob passes' sums.
  for (const pass of ["train", "logprobs"]) {
    const same = rows.filter((r) => r.pass === pass);
    for (const r of same) {
      r.losses.forEach((l, i) => {
        if (Math.abs(l - same[0].losses[i]) > 1e-5 * Math.abs(same[0].losses[i])) throw new Error(`${r.name}: ${l} at step ${i} differs from ${same[0].losses[i]}`);
      });
    }
  }
  const result = {
    benchmark: "learner-memory",
    command: "npm run bench -- learner-memory",
    date: new Date().toISOString(),
    machine: machine(),
    provenance: provenance.finish(),
    model: { ...cfg, parameters: parameterCount(cfg) },
    batch: { rows: ROWS, promptTokens: PROMPT, responseTokens: RESPONSE, threads: THREADS },
    variants: rows,
  };
  const out = join(import.meta.dirname, "results", "learner-memory.json");
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
