// The "0.5B end to end" part of bench/model-scale.ts (issue 16): a Qwen2.5-0.5B-shaped model initialised with
// `lspo model init --hf-config` (fp32 shards), then `lspo train` with DAPO for 2 steps (4 prompts x G = 4,
// 128 new tokens, 1 rollout actor; the learner publishes its weights after every update and checkpoints
// after every one), then `lspo train --resume` for 1 more step. Each run is watched from outside
// (model-scale-run.ts: every process's peak RSS, the rollout actor's generation counters); the learner's
// update records give the training step's tokens/s, the rollout actor's counters generation's. The memory
// model's estimates stand beside the measured peaks (model-scale-memory.ts), and the PyTorch CPU eager
// peer runs the same shapes afterwards (model-scale-torch.ts).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { parameterCount, parseConfigJson } from "@lspo/model";
import { CLI, timed, type Step } from "./cli-step.js";
import { fullVocabTokenizerJson } from "./full-vocab-tokenizer.js";
import { beside, estimates, goal, largestShardBytes, type Estimated } from "./model-scale-memory.js";
import { watchedTrain, type Rec, type WatchedRun } from "./model-scale-run.js";
import { runTorchPeer, torchPython } from "./model-scale-torch.js";

const G = 4;
const PROMPTS = 4;
const NEW_TOKENS = 128;
/** Rows per pass: one optimizer step's (a mini-batch of 1 group of G rows), so no gradients are summed. */
const MICRO_BATCH = 4;
const SHARD_MB = 512;
const WEIGHT_DECAY = 0.01;

/** The run: what the issue names, and what a random policy needs to train at all (see `why`). */
function runConfig(modelDir: string, timeoutS: number): Rec {
  return {
    run: { name: "model-scale", seed: 1, mode: "sync", steps: 2, maxGroups: 2 * PROMPTS, timeoutS },
    model: { dir: modelDir },
    task: { kind: "synthetic", synthetic: { difficulty: 1 }, poolSize: 64 },
    rollout: { actors: 1, groupSize: G, promptsPerCall: PROMPTS, maxNewTokens: NEW_TOKENS },
    sampler: { mode: "batch", genBatch: PROMPTS, batchSize: PROMPTS, accuracyFilter: false, lengthFilter: false },
    learner: {
      algorithm: { name: "dapo" }, lr: 1e-4, weightDecay: WEIGHT_DECAY, microBatch: MICRO_BATCH, recompute: true, checkpointEvery: 1,
      weightsShardMb: SHARD_MB, memoryBudgetGb: 12,
    },
    eval: { prompts: 1, maxNewTokens: 8 },
  };
}

const why = {
  tokenizer: "the demo tokenizer with a filler token for each of the vocabulary's other ids (bench/lib/full-vocab-tokenizer.ts): the rollout actor decodes every response, and a random model samples ids the demo tokenizer's 479 do not cover",
  "run.maxGroups": "8, and 12 on resume: each update's 4 prompts and no more. The controller's sync gate feeds the next prompts as soon as the learner has taken a batch (its batchesConsumed counts the batch in training), so without a budget the run generates a third batch during update 2, and the resumed run trains that leftover instead of generating",
  "sampler.accuracyFilter": "false: a random policy answers nothing right, and DAPO's dynamic sampling would drop every group",
  "sampler.mode": "batch with genBatch = batchSize = 4 and no length filter: each update's 4 prompts are generated together (16 rows), none dropped",
  "learner.weightDecay": "0.01: with no reward every advantage is 0 and so is the gradient; the decay still moves the weights, so each published version is new content that the rollout actor fetches (identical bytes are only relabelled)",
  "learner.microBatch": "4 rows per pass, one optimizer step's (DAPO's mini-batch here is 1 group of G = 4): no gradients summed over micro-batches, which would hold 4 B per parameter more (2 GB at 0.5B)",
  "learner.recompute": "true: each layer recomputed in the backward pass, so a pass of 4 rows keeps about the layers' inputs only; with 1-row micro-batches the summed gradients cost more than the activations saved",
  "eval.prompts": "1 held-out prompt of 8 tokens before and after: the evaluation is not what is measured",
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** The surviving update record of each step (a restarted learner replays), in step order. */
const updatesOf = (r: WatchedRun): Rec[] => [...new Map(r.records.filter((x) => x.event === "update").map((x) => [Number(x.step), x])).values()].sort((a, b) => Number(a.step) - Number(b.step));

function runFigures(r: WatchedRun): Rec {
  const updates = updatesOf(r);
  const gen = Object.values(r.rollout);
  const genTokens = sum(gen.map((c) => c.tokens));
  const genSeconds = sum(gen.map((c) => c.generateSeconds));
  const evals = r.records.filter((x) => x.event === "eval").map((x) => ({ step: x.step, policyVersion: x.policyVersion, seconds: x.seconds }));
  const role = (k: string) => r.peaks.roles[k] ?? { peakBytes: 0, pids: [], threads: null };
  return {
    label: r.label,
    command: r.command,
    wallSeconds: r.seconds,
    steps: r.summary.steps,
    trained: r.summary.trained,
    lost: r.summary.lost,
    duplicates: r.summary.duplicates,
    restarts: r.summary.restarts,
    peaks: Object.fromEntries(Object.entries(r.peaks.roles).map(([k, v]) => [k, { peakBytes: v.peakBytes, peakGiB: v.peakBytes / 2 ** 30, processes: v.pids.length, threads: v.threads }])),
    processTreePeakGiB: r.peaks.treePeakBytes / 2 ** 30,
    polls: r.peaks.polls,
    learnerThreads: role("learner").threads,
    rolloutThreads: role("rollout").threads,
    generation: { source: "the rollout actor's Status counters (tokens, generateSeconds: its stream generations, prefill included)", actors: r.rollout, readings: r.rolloutHistory, tokens: genTokens, seconds: genSeconds, tokensPerS: genSeconds > 0 ? genTokens / genSeconds : null },
    updates: updates.map((u) => ({
      step: u.step, seconds: u.seconds, tokens: u.tokens, responseTokens: u.responseTokens, responses: u.responses, optimizerSteps: u.optimizerSteps,
      tokensPerS: Number(u.tokens) / Number(u.seconds), meanAbsAdvantage: (u.metrics as Rec | undefined)?.mean_abs_advantage ?? null,
      // The version the update's groups were sampled with: the previous step's published weights when 0 lag.
      sampledWithVersion: Number(u.step) - 1 - Number(u.policyLag ?? 0),
    })),
    evals,
    checkpoints: r.checkpoints,
    resumed: r.records.filter((x) => x.event === "resume").map((x) => ({ step: x.step ?? null, from: x.from ?? null, checkpoint: x.checkpoint ?? null })),
  };
}

export interface TrainPartOptions {
  config: Record<string, unknown>;
  work: string;
  /** Bound on each `lspo train` run (also its run.timeoutS). */
  timeoutS: number;
  torch: boolean;
}

export async function trainPart(o: TrainPartOptions): Promise<Rec> {
  const cfgFile = join(o.work, "config-train.json");
  mkdirSync(o.work, { recursive: true });
  writeFileSync(cfgFile, JSON.stringify(o.config, null, 2));
  const tokenizerFile = join(o.work, "tokenizer.json");
  writeFileSync(tokenizerFile, fullVocabTokenizerJson(Number(o.config.vocab_size)));
  const modelDir = join(o.work, "model-train");
  const init: Step = timed("init: fp32 shards (training model)", [CLI, "model", "init", "--hf-config", cfgFile, "--tokenizer", tokenizerFile, "--seed", "1", "--out", modelDir]);
  const run = runConfig(modelDir, o.timeoutS);
  const yamlFile = join(o.work, "train.yaml");
  writeFileSync(yamlFile, stringify(run));
  const runDir = join(o.work, "run");
  const logs = join(o.work, "logs");
  mkdirSync(logs, { recursive: true });

  console.log(`train: ${JSON.stringify(run)}`);
  const first = await watchedTrain("train 2 steps", [CLI, "train", "-c", yamlFile, "--run-dir", runDir, "-q"], runDir, logs, o.timeoutS + 120);
  report(first);
  const resumed = await watchedTrain("resume for 1 more step", [CLI, "train", "--resume", runDir, "run.steps=3", `run.maxGroups=${3 * PROMPTS}`, "-q"], runDir, logs, o.timeoutS + 120);
  report(resumed);
  if (Number(first.summary.steps) !== 2 || Number(resumed.summary.steps) !== 3) throw new Error(`the runs ended at steps ${first.summary.steps} and ${resumed.summary.steps}, not 2 and 3`);
  const runs = [runFigures(first), runFigures(resumed)];

  // The shapes the runs had: rows of prompt + response tokens (the mean over the updates' rows).
  const updates = [...updatesOf(first), ...updatesOf(resumed)];
  const rows = Number(updates[0].responses);
  const seq = Math.ceil(sum(updates.map((u) => Number(u.tokens))) / sum(updates.map((u) => Number(u.responses))));
  const promptLen = Math.round(sum(updates.map((u) => Number(u.tokens) - Number(u.responseTokens))) / sum(updates.map((u) => Number(u.responses))));
  const optimizerSteps = Number(updates[0].optimizerSteps);
  const scored = Math.round(sum(updates.map((u) => Number(u.responseTokens))) / sum(updates.map((u) => Number(u.responses))));
  // The learner's settings as the run resolved them (defaults included): what its memory depends on.
  const learner = (parseYaml(readFileSync(join(runDir, "config.yaml"), "utf8")) as { learner: Rec }).learner;
  const shape = {
    learnerRows: Number(learner.microBatch), scored, recompute: Boolean(learner.recompute), vocabChunk: Number(learner.vocabChunk ?? 0),
    // More than one pass per optimizer step: rows of a step (updates' rows / optimizer steps) above the micro-batch.
    accumulates: Number(learner.microBatch) > 0 && Number(learner.microBatch) < Number(updates[0].responses) / Number(updates[0].optimizerSteps),
    rolloutRows: G * PROMPTS, seq, shardBytes: SHARD_MB * 2 ** 20, weightCopies: 0,
  };
  const e = estimates(o.config, shape);
  const memory: Estimated[] = [];
  for (const r of [first, resumed]) {
    memory.push(beside("learner", r.label, e.learner, r.peaks.roles.learner?.peakBytes ?? Number.NaN, { rows: shape.learnerRows, seq, scored, recompute: Number(shape.recompute), vocabChunk: shape.vocabChunk, accumulates: Number(shape.accumulates) }));
    memory.push(beside("rollout", r.label, e.rollout, r.peaks.roles.rollout?.peakBytes ?? Number.NaN, { rows: shape.rolloutRows, seq, incomingShardBytes: largestShardBytes(o.config, shape.shardBytes) }));
  }
  for (const m of memory) console.log(`memory model, ${m.role} (${m.run}): estimate ${(m.estimateBytes / 2 ** 30).toFixed(2)} GiB, measured ${(m.measuredBytes / 2 ** 30).toFixed(2)} GiB, ratio ${m.ratio.toFixed(2)}`);
  const peakOf = (role: string) => Math.max(...[first, resumed].map((r) => r.peaks.roles[role]?.peakBytes ?? 0));
  const goals = {
    learnerPeak: goal(peakOf("learner"), 12),
    rolloutPeak: goal(peakOf("rollout"), 4),
    memoryModelWithin25: { met: memory.every((m) => m.within25), ratios: memory.map((m) => +m.ratio.toFixed(3)) },
  };
  console.log(`goals: ${JSON.stringify(goals)}`);

  // Ours: the rollout actor's generation over both runs; the learner's best update (the first update of
  // each learner process also builds its forward session for the old log-probs).
  const genTokens = sum([first, resumed].flatMap((r) => Object.values(r.rollout).map((c) => c.tokens)));
  const genSeconds = sum([first, resumed].flatMap((r) => Object.values(r.rollout).map((c) => c.generateSeconds)));
  const best = updates.reduce((a, b) => (Number(b.tokens) / Number(b.seconds) > Number(a.tokens) / Number(a.seconds) ? b : a));
  const ours = {
    generationTokensPerS: genSeconds > 0 ? genTokens / genSeconds : null,
    generation: { tokens: genTokens, seconds: genSeconds },
    trainingTokensPerS: Number(best.tokens) / Number(best.seconds),
    training: { step: best.step, tokens: best.tokens, seconds: best.seconds, all: updates.map((u) => ({ step: u.step, seconds: u.seconds, tokens: u.tokens })) },
  };
  const threads = first.peaks.roles.learner?.threads ?? 1;
  let torch: Rec | { skipped: string } = { skipped: "--torch off" };
  if (o.torch) {
    const py = torchPython();
    if (!py) throw new Error("the PyTorch peer needs `import torch` in python3 or /usr/bin/python3 (apt-get install python3-torch libopenblas0-openmp), or --torch off");
    console.log("PyTorch peer: running");
    torch = runTorchPeer(py, {
      config: o.config, threads, prompt_len: promptLen, new_tokens: NEW_TOKENS, gen_rows: G * PROMPTS,
      rows, seq, micro_rows: MICRO_BATCH, mini_rows: Math.ceil(rows / optimizerSteps), steps: 2, weight_decay: WEIGHT_DECAY,
    });
    console.log(`PyTorch peer: ${JSON.stringify(torch)}`);
  }
  const t = torch as { generation?: { tokens_per_s: number }; training?: { tokens_per_s: number }; peak_rss_bytes?: number };
  const comparison = t.generation && t.training ? {
    generationOursOverTorch: ours.generationTokensPerS !== null ? ours.generationTokensPerS / t.generation.tokens_per_s : null,
    trainingOursOverTorch: ours.trainingTokensPerS / t.training.tokens_per_s,
  } : null;
  if (comparison) console.log(`ours / PyTorch: generation ${comparison.generationOursOverTorch?.toFixed(2)}x, training step ${comparison.trainingOursOverTorch.toFixed(2)}x`);

  const c = parseConfigJson(o.config);
  return {
    config: o.config,
    params: parameterCount(c),
    init,
    runConfig: run,
    why,
    shape: { rows, seq, promptLen, newTokens: NEW_TOKENS, microBatch: MICRO_BATCH, optimizerStepsPerUpdate: optimizerSteps, threads, learner: { recompute: shape.recompute, vocabChunk: shape.vocabChunk } },
    runs,
    memory,
    budgetCheck: "the learner's own check at start (learner.memoryBudgetGb 12) estimates rows of rollout.maxNewTokens + 256 tokens",
    goals,
    ours,
    torch,
    comparison,
  };
}

function report(r: WatchedRun): void {
  const gib = (k: string) => ((r.peaks.roles[k]?.peakBytes ?? 0) / 2 ** 30).toFixed(2);
  const gen = Object.values(r.rollout);
  console.log(`${r.label}: ${r.seconds.toFixed(0)} s, steps ${r.summary.steps}; peak RSS learner ${gib("learner")} GiB, rollout ${gib("rollout")} GiB, ` +
    `controller ${gib("controller")} GiB, nats-server ${gib("nats-server")} GiB; generation ${sum(gen.map((c) => c.tokens))} tokens in ${sum(gen.map((c) => c.generateSeconds)).toFixed(1)} s; ` +
    `updates ${updatesOf(r).map((u) => `${u.step}: ${Number(u.seconds).toFixed(1)} s`).join(", ")}`);
}
