// Held-out evaluation of a policy on the synthetic task: greedy accuracy over N held-out problems (batched
// generate, scored by the tasks verifier), and a probe of what RL would see — G samples per prompt at a
// temperature, counting groups that are all right, all wrong, or MIXED (the only ones with a GRPO signal).
import {
  type HfModel, type LlamaConfig, type Provider, type TextTokenizer, type Weights, OnnxDecoder, generate, loadTokenizer,
} from "@lspo/model";
import { type SyntheticProblem, type SyntheticTaskOptions, isCorrect, readModelDir, syntheticProblems } from "@lspo/tasks";
import { syntheticPromptText } from "./format.js";

/** What evaluation needs of a policy: a model directory's path, a loaded one, or live weights. */
export type EvalPolicy = string | Pick<HfModel, "config" | "weights" | "tokenizerJson" | "tokenizerConfigJson">;

export interface HeldOutOptions {
  /** Held-out problems to score (distinct; the first N of the test split's stream for `task`). */
  problems: number;
  task: SyntheticTaskOptions;
  /** Default 96: the longest worked solution is ~65 tokens. */
  maxNewTokens?: number;
  /** Prompts per generate() call (default 64). */
  batchSize?: number;
  provider?: Provider;
  threads?: number;
}

export interface HeldOutResult {
  accuracy: number;
  correct: number;
  total: number;
  /** Accuracy per difficulty level. */
  byLevel: Record<string, { correct: number; total: number; accuracy: number }>;
  /** Responses that hit maxNewTokens without the stop token. */
  truncated: number;
  meanResponseTokens: number;
  /** The first few problems with the model's response, for eyeballing. */
  examples: { prompt: string; response: string; answer: string; correct: boolean }[];
  seconds: number;
}

export interface GroupProbeOptions {
  prompts: number;
  groupSize: number;
  temperature: number;
  seed: number;
  task: SyntheticTaskOptions;
  maxNewTokens?: number;
  /** Sequences per generate() call (default 128). */
  batchSize?: number;
  provider?: Provider;
  threads?: number;
}

export interface GroupProbeResult {
  groups: number;
  groupSize: number;
  temperature: number;
  /** Fraction of groups with some right and some wrong responses. */
  mixed: number;
  allCorrect: number;
  allWrong: number;
  /** Mean per-response accuracy (the expected reward under sampling). */
  sampledAccuracy: number;
  meanResponseTokens: number;
  seconds: number;
}

interface Loaded {
  config: LlamaConfig;
  weights: Weights;
  tokenizer: TextTokenizer;
  decoder: OnnxDecoder;
}

async function open(policy: EvalPolicy, o: { provider?: Provider; threads?: number }): Promise<Loaded> {
  const model = typeof policy === "string" ? readModelDir(policy) : policy;
  const where = typeof policy === "string" ? `${policy}/tokenizer.json` : "tokenizer.json";
  const tokenizer = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, where);
  const decoder = await OnnxDecoder.create(model.config, model.weights, { provider: o.provider, threads: o.threads || undefined });
  return { config: model.config, weights: model.weights, tokenizer, decoder };
}

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${what} must be an integer >= 1, got ${n}`);
}

/** Generates for `prompts` in chunks of `batchSize`; returns the decoded responses and their token counts. */
async function respond(
  m: Loaded, prompts: readonly string[], batchSize: number, opts: Omit<Parameters<typeof generate>[2], "seed"> & { seed?: number },
): Promise<{ text: string; tokens: number; truncated: boolean }[]> {
  const out: { text: string; tokens: number; truncated: boolean }[] = [];
  for (let i = 0; i < prompts.length; i += batchSize) {
    const chunk = prompts.slice(i, i + batchSize);
    // Each chunk gets its own seed offset so chunks draw different streams; greedy ignores it.
    const r = await generate(m.decoder, chunk.map((p) => m.tokenizer.encode(p)), { ...opts, seed: opts.seed === undefined ? undefined : (opts.seed + i) >>> 0 });
    r.tokens.forEach((t, j) => out.push({ text: m.tokenizer.decode(t, { skipSpecialTokens: true }), tokens: t.length, truncated: r.truncated[j] }));
  }
  return out;
}

/** The held-out problems an evaluation scores: distinct test-split problems, the same for the same options. */
export function heldOutProblems(count: number, task: SyntheticTaskOptions): SyntheticProblem[] {
  checkCount("held-out problems", count);
  return syntheticProblems("test", count, task);
}

/** Greedy held-out accuracy of a policy on `problems` held-out synthetic problems. */
export async function evaluateModelHeldOut(policy: EvalPolicy, o: HeldOutOptions): Promise<HeldOutResult> {
  const t0 = performance.now();
  const problems = heldOutProblems(o.problems, o.task);
  const m = await open(policy, o);
  try {
    const batchSize = o.batchSize ?? 64;
    checkCount("batchSize", batchSize);
    const responses = await respond(m, problems.map(syntheticPromptText), batchSize, { maxNewTokens: o.maxNewTokens ?? 96 });
    const byLevel: HeldOutResult["byLevel"] = {};
    let correct = 0, tokens = 0, truncated = 0;
    const examples: HeldOutResult["examples"] = [];
    problems.forEach((p, i) => {
      const r = responses[i];
      const ok = isCorrect(r.text, p.answer, { symbolic: false }); // numbers only: the task's answers are integers
      const lv = (byLevel[p.level] ??= { correct: 0, total: 0, accuracy: 0 });
      lv.total++;
      if (ok) (correct++, lv.correct++);
      tokens += r.tokens;
      if (r.truncated) truncated++;
      if (examples.length < 5) examples.push({ prompt: p.prompt, response: r.text, answer: p.answer, correct: ok });
    });
    for (const lv of Object.values(byLevel)) lv.accuracy = lv.correct / lv.total;
    return {
      accuracy: correct / problems.length, correct, total: problems.length, byLevel, truncated,
      meanResponseTokens: tokens / problems.length, examples, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await m.decoder.release();
  }
}

/** Samples `groupSize` responses for each of `prompts` held-out problems and classifies the groups. */
export async function probeGroupMix(policy: EvalPolicy, o: GroupProbeOptions): Promise<GroupProbeResult> {
  const t0 = performance.now();
  checkCount("groupSize", o.groupSize);
  const problems = heldOutProblems(o.prompts, o.task);
  const m = await open(policy, o);
  try {
    const texts = problems.flatMap((p) => new Array<string>(o.groupSize).fill(syntheticPromptText(p)));
    const responses = await respond(m, texts, o.batchSize ?? 128, {
      maxNewTokens: o.maxNewTokens ?? 96, sampling: { temperature: o.temperature, topK: 0, topP: 1 }, seed: o.seed,
    });
    let mixed = 0, allCorrect = 0, allWrong = 0, right = 0, tokens = 0;
    problems.forEach((p, g) => {
      const group = responses.slice(g * o.groupSize, (g + 1) * o.groupSize);
      const k = group.filter((r) => isCorrect(r.text, p.answer, { symbolic: false })).length;
      right += k;
      tokens += group.reduce((n, r) => n + r.tokens, 0);
      if (k === 0) allWrong++;
      else if (k === o.groupSize) allCorrect++;
      else mixed++;
    });
    const n = problems.length;
    return {
      groups: n, groupSize: o.groupSize, temperature: o.temperature, mixed: mixed / n, allCorrect: allCorrect / n, allWrong: allWrong / n,
      sampledAccuracy: right / (n * o.groupSize), meanResponseTokens: tokens / (n * o.groupSize), seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await m.decoder.release();
  }
}
