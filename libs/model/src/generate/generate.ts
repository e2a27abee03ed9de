// Batched generation for rollouts: left-padded prefill, then one token per step with a KV cache kept
// where the decoder asks (`openCache`): in JS in the layout attention reads (slot-kv-cache.ts, the ONNX
// decoder's default on the host) or on its device (runtime/device-kv-cache.ts); else in JS time-major
// [S, B, Hkv, hd] per layer (kv-cache.ts). Positions follow the attention mask (as
// transformers does: position = number of real tokens before, pads get 1), stop tokens end a sequence,
// and finished rows are compacted out of the batch once at least half of it has finished, so long
// stragglers do not pay for the whole batch (response lengths vary a lot in RL). With `maxRows` below the
// number of sequences, generation is continuously batched instead (continuous.ts ContinuousBatch): a finished
// sequence's row goes to the next waiting one.
import { type Tensor } from "../tensor.js";
import { type Rng, rngStreams } from "../sampling/rng.js";
import { GREEDY, type SamplingParams, sampleToken, validateSamplingParams } from "../sampling/sample.js";
import { type DecoderStepInput, type DecoderStepOutput, type GreedyStepOutput, type IncrementalDecoder, type KvStore } from "./decoder.js";
import { ContinuousBatch } from "./continuous.js";
import { KvCache } from "./kv-cache.js";
import { SlotKvCache } from "./slot-kv-cache.js";

export class GenerateError extends Error {
  override name = "GenerateError";
}

export interface GenerateOptions {
  /** Upper bound on generated tokens per sequence (the stop token included). */
  maxNewTokens: number;
  /** Default: greedy. */
  sampling?: SamplingParams;
  /** Required when sampling at temperature > 0 (unless `rngs` is given); sequence i draws from stream i of this seed. */
  seed?: number;
  /** Each sequence's own rng stream, in prompt order, instead of `seed`'s streams: a caller whose sequences
   *  belong to groups seeded apart (the rollout actor: one seed per group, whatever else shares the call). */
  rngs?: readonly Rng[];
  /** Tokens that end a sequence (kept as its last token). Default: the config's eos ids. */
  stopTokenIds?: readonly number[];
  /** Left-padding id. Default: the config's pad id, else 0 (padding is masked out, so its value only
   *  matters for reproducing another implementation's inputs). */
  padTokenId?: number;
  /** Prefill each distinct prompt once and copy its KV cache to every row that repeats it (a group's G
   *  samples). Default true; false prefills every row (the reference the one-prefill path is tested against). */
  sharedPrefill?: boolean;
  /** Continuous batching: at most this many sequences decode at once, and a finished one's row goes to the next
   *  waiting sequence (continuous.ts). Needs a decoder whose cache is host slots (OnnxDecoder's default on the
   *  host); with another cache the sequences are generated in consecutive batches of this many. Default: all at
   *  once. */
  maxRows?: number;
  /** Called after each decoder step (the prefill's P is 0) with its rows and wall time: what benchmarks time. */
  onStep?: (e: StepEvent) => void;
}

/** One decoder call of a generation. */
export interface StepEvent {
  /** Cache positions before the step (0 for a prefill; the longest row's under continuous batching). */
  P: number;
  /** Rows the step computed. */
  B: number;
  /** Of those, rows of a sequence still generating (the rest are finished or free rows fed a pad). */
  live: number;
  seconds: number;
}

export interface GenerateResult {
  /** Generated tokens per prompt, in prompt order; a stop token that ended a sequence is included. */
  tokens: number[][];
  /** Per generated token: log softmax(logits / T)[token] (T = 1 when greedy); see sampling/sample.ts. */
  logprobs: number[][];
  /** True when a sequence reached maxNewTokens without a stop token. */
  truncated: boolean[];
}

export async function generate(decoder: IncrementalDecoder, prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<GenerateResult> {
  const c = decoder.config;
  const sampling = options.sampling ?? GREEDY;
  validateSamplingParams(sampling);
  const stop = new Set(options.stopTokenIds ?? c.eosTokenIds);
  const pad = options.padTokenId ?? c.padTokenId ?? 0;
  const maxNew = options.maxNewTokens;
  checkInputs(prompts, maxNew, c.vocabSize, c.maxPositionEmbeddings, pad);
  if (options.rngs && options.rngs.length !== prompts.length) throw new GenerateError(`rngs: ${options.rngs.length} streams for ${prompts.length} prompts`);
  const rngs = sampling.temperature === 0 ? null : options.rngs ? [...options.rngs] : samplingStreams(sampling, options.seed, prompts.length);

  const out: GenerateResult = { tokens: prompts.map(() => []), logprobs: prompts.map(() => []), truncated: prompts.map(() => false) };
  const loop = { maxNew, pad, stop, sampling, onStep: options.onStep };
  const maxRows = options.maxRows ?? prompts.length;
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new GenerateError(`maxRows must be a positive integer, got ${options.maxRows}`);
  if (maxRows >= prompts.length) {
    await generateBatch(decoder, prompts, { ...loop, rngs, out, sharedPrefill: options.sharedPrefill });
    return out;
  }
  const maxSteps = Math.max(...prompts.map((p) => p.length)) + maxNew;
  const cache = decoder.openCache?.(maxRows, { initial: Math.min(maxSteps, 128), max: maxSteps });
  if (cache instanceof SlotKvCache) {
    const batch = new ContinuousBatch(decoder, cache, { pad, sharedPrefill: options.sharedPrefill, onStep: options.onStep });
    batch.add(prompts.map((prompt, i) => ({
      prompt, maxNew, stop, sampling, rng: rngs?.[i] ?? null,
      onEnd: (e) => ((out.tokens[i] = e.tokens), (out.logprobs[i] = e.logprobs), (out.truncated[i] = e.truncated)),
    })));
    batch.close();
    try {
      await batch.run();
    } finally {
      cache.release();
    }
    return out;
  }
  cache?.release();
  // No slots: consecutive batches of maxRows, each sequence still on its own rng stream.
  for (let a = 0; a < prompts.length; a += maxRows) {
    const b = Math.min(prompts.length, a + maxRows);
    const part: GenerateResult = { tokens: out.tokens.slice(a, b), logprobs: out.logprobs.slice(a, b), truncated: out.truncated.slice(a, b) };
    await generateBatch(decoder, prompts.slice(a, b), { ...loop, rngs: rngs?.slice(a, b) ?? null, out: part, sharedPrefill: options.sharedPrefill });
    part.truncated.forEach((t, j) => (out.truncated[a + j] = t));
  }
  return out;
}

/** Every prompt in one batch: the prefill, then decode steps until every row has stopped. */
async function generateBatch(
  decoder: IncrementalDecoder,
  prompts: readonly (readonly number[])[],
  o: SamplingLoop & { sharedPrefill?: boolean },
): Promise<void> {
  const c = decoder.config;
  const B0 = prompts.length;
  const L = Math.max(...prompts.map((p) => p.length));
  const maxSteps = L + o.maxNew; // time steps the cache may ever hold

  // One prefill per distinct prompt: rows that repeat one (the G samples of a group) get its cache after it.
  const prefillRows = o.sharedPrefill === false ? null : distinctRows(prompts);
  const B1 = prefillRows?.first.length ?? B0;
  // Room for the prompts and a first stretch of generation; a host cache grows when needed.
  const initial = L + Math.min(o.maxNew, 128);
  const cache: KvStore = decoder.openCache?.(B1, { initial, max: maxSteps }) ?? new KvCache(c.numLayers, B1, c.numKvHeads, c.headDim, initial, maxSteps);
  try {
    await decodeAll(decoder, cache, prompts, { ...o, L, maxSteps, prefillRows });
  } finally {
    cache.release();
  }
}

/**
 * Each prompt's distinct prompt (`of[i]`, an index into `first`) and the first row of each distinct prompt;
 * null when every prompt is distinct (nothing to share).
 */
function distinctRows(prompts: readonly (readonly number[])[]): { first: number[]; of: number[] } | null {
  const index = new Map<string, number>();
  const first: number[] = [];
  const of = prompts.map((p, i) => {
    const key = p.join(",");
    let u = index.get(key);
    if (u === undefined) {
      u = first.length;
      index.set(key, u);
      first.push(i);
    }
    return u;
  });
  return first.length < prompts.length ? { first, of } : null;
}

/** What the batch loop samples with and writes to (continuous.ts takes each sequence's own: SequenceSpec). */
export interface SamplingLoop {
  maxNew: number;
  pad: number;
  stop: Set<number>;
  sampling: SamplingParams;
  /** One stream per sequence; null when greedy. */
  rngs: Rng[] | null;
  out: GenerateResult;
  onStep?: GenerateOptions["onStep"];
}

interface LoopState extends SamplingLoop {
  L: number;
  maxSteps: number;
  /** Set when some prompts repeat: the prefill runs over `first` and the cache is then copied out by `of`. */
  prefillRows: { first: number[]; of: number[] } | null;
}

/** Prefill, then one token per step until every row has stopped; fills `s.out`. */
async function decodeAll(decoder: IncrementalDecoder, cache: KvStore, prompts: readonly (readonly number[])[], s: LoopState): Promise<void> {
  const c = decoder.config;
  const { L, maxNew, pad, stop, sampling, rngs, out, maxSteps, prefillRows } = s;
  // Greedy decode steps ask the decoder to pick the tokens itself (greedyStep), where it can: no logits to copy
  // out and scan here. The prefill always returns logits (its rows may repeat: prefillRows).
  const greedy = sampling.temperature === 0 && decoder.greedyStep !== undefined;
  const timedStep = async (input: DecoderStepInput, live: number, picks = false): Promise<DecoderStepOutput | GreedyStepOutput> => {
    const t0 = performance.now();
    const r = (picks ? await decoder.greedyStep!(input) : null) ?? (await decoder.step(input));
    s.onStep?.({ P: cache.P, B: input.inputIds.shape[0], live, seconds: (performance.now() - t0) / 1000 });
    return r;
  };
  const B0 = prompts.length;
  // Batch state; row r of the current batch is prompt rows[r].
  let rows = prompts.map((_, i) => i);
  // Each row's attention mask over the cache's time steps (int64, as the graph takes it).
  let mask = prompts.map((p) => {
    const m = new BigInt64Array(maxSteps);
    m.fill(1n, L - p.length, L);
    return m;
  });
  let nextPos = prompts.map((p) => p.length); // position of each row's next token
  let next = new Array<number>(B0).fill(pad); // each row's last sampled token
  let done = new Array<boolean>(B0).fill(false); // finished (stop token or length)

  // Prefill: the left-padded prompts (each distinct one once); positions count real tokens (pads get 1, as
  // transformers).
  const prefilled = prefillRows ? prefillRows.first.map((i) => prompts[i]) : prompts;
  const ids0 = prefilled.flatMap((p) => [...new Array<number>(L - p.length).fill(pad), ...p]);
  const pos0 = prefilled.flatMap((p) => [...new Array<number>(L - p.length).fill(1), ...p.map((_, j) => j)]);
  const past0 = cache.past();
  let step = await timedStep({
    inputIds: int64([prefilled.length, L], ids0),
    positionIds: int64([prefilled.length, L], pos0),
    attentionMask: maskTensor(prefillRows ? prefillRows.first.map((i) => mask[i]) : mask, L),
    pastKeys: past0.keys,
    pastValues: past0.values,
    pastLayout: past0.layout,
  }, prefilled.length);

  for (;;) {
    let B = rows.length;
    const prefill = cache.P === 0;
    const layers = (step.cacheKeys ?? step.newKeys).length;
    if (layers !== c.numLayers) throw new GenerateError(`decoder returned K/V for ${layers} layers, expected ${c.numLayers}`);
    checkStep(step, cache.P, prefill ? L : 1, [prefill ? prefilled.length : B, c.numKvHeads, c.headDim], c.vocabSize);
    cache.append(step);
    // A shared prefill's cache is copied out to every row of its prompt (a gather of the prompt's steps).
    if (prefill && prefillRows) await cache.keepRows(prefillRows.of);
    const logitsRow = prefill && prefillRows ? (r: number) => prefillRows.of[r] : (r: number) => r;

    // Sample the next token of every unfinished row (or take the decoder's greedy picks).
    const V = c.vocabSize;
    const picked = "tokens" in step ? step : null;
    const logits = "logits" in step ? step.logits.data : null;
    for (let r = 0; r < B; r++) {
      if (done[r]) continue;
      const i = rows[r];
      const lr = logitsRow(r);
      const s = picked ? { token: picked.tokens[lr], logprob: picked.logprobs[lr] } : sampleToken(logits!.subarray(lr * V, (lr + 1) * V), sampling, rngs?.[i] ?? null);
      out.tokens[i].push(s.token);
      out.logprobs[i].push(s.logprob);
      next[r] = s.token;
      if (stop.has(s.token)) done[r] = true;
      else if (out.tokens[i].length === maxNew) {
        done[r] = true;
        out.truncated[i] = true;
      }
    }
    if (done.every(Boolean)) break;

    // Drop finished rows once half the batch has finished: one gather of the cache per halving.
    const alive = done.flatMap((d, r) => (d ? [] : [r]));
    if (alive.length * 2 <= B) {
      await cache.keepRows(alive);
      rows = alive.map((r) => rows[r]);
      mask = alive.map((r) => mask[r]);
      nextPos = alive.map((r) => nextPos[r]);
      next = alive.map((r) => next[r]);
      done = alive.map(() => false);
      B = alive.length;
    }

    // Decode one step: finished rows still in the batch feed a masked pad and keep their position.
    const P = cache.P;
    for (let r = 0; r < B; r++) mask[r][P] = done[r] ? 0n : 1n;
    const past = cache.past();
    step = await timedStep({
      inputIds: int64([B, 1], next.map((t, r) => (done[r] ? pad : t))),
      positionIds: int64([B, 1], nextPos),
      attentionMask: maskTensor(mask, P + 1),
      pastKeys: past.keys,
      pastValues: past.values,
      pastLayout: past.layout,
    }, done.filter((d) => !d).length, greedy);
    nextPos = nextPos.map((p, r) => (done[r] ? p : p + 1));
  }
}

function checkInputs(prompts: readonly (readonly number[])[], maxNew: number, V: number, maxPos: number, pad: number): void {
  if (prompts.length === 0) throw new GenerateError("no prompts to generate from");
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new GenerateError(`maxNewTokens must be a positive integer, got ${maxNew}`);
  if (!Number.isInteger(pad) || pad < 0 || pad >= V) throw new GenerateError(`padTokenId ${pad} is outside the vocabulary [0, ${V})`);
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new GenerateError(`prompt ${i} is empty`);
    const bad = p.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= V);
    if (bad >= 0) throw new GenerateError(`prompt ${i}: token ${p[bad]} at index ${bad} is outside the vocabulary [0, ${V})`);
    if (p.length + maxNew > maxPos) {
      throw new GenerateError(`prompt ${i}: ${p.length} tokens + maxNewTokens ${maxNew} exceeds max_position_embeddings ${maxPos}`);
    }
  });
}

/** One rng stream per prompt when sampling; null when greedy (no randomness to seed). */
function samplingStreams(p: SamplingParams, seed: number | undefined, n: number): Rng[] | null {
  if (p.temperature === 0) return null;
  if (seed === undefined) throw new GenerateError("sampling at temperature > 0 needs a seed (generation must be reproducible)");
  return rngStreams(seed, n);
}

/** The decoder must return logits [B, V] (or, from greedyStep, B tokens in the vocabulary and B log-probs) and,
 *  per layer, K/V slices [T, B, Hkv, hd] (host cache) or the whole cache [P + T, B, Hkv, hd] (device cache). */
function checkStep(s: DecoderStepOutput | GreedyStepOutput, P: number, T: number, rest: number[], V: number): void {
  const want = (t: { shape: readonly number[]; data?: ArrayLike<unknown> }, shape: number[], what: string) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.shape.join() !== shape.join() || (t.data && t.data.length !== n)) {
      throw new GenerateError(`decoder returned ${what} of shape [${t.shape}]${t.data ? ` (${t.data.length} values)` : ""}, expected [${shape}]`);
    }
  };
  if ("logits" in s) want(s.logits, [rest[0], V], "logits");
  else {
    if (s.tokens.length !== rest[0] || s.logprobs.length !== rest[0]) {
      throw new GenerateError(`decoder returned ${s.tokens.length} greedy tokens and ${s.logprobs.length} log-probs, expected ${rest[0]} of each`);
    }
    const bad = s.tokens.findIndex((t) => !(t >= 0 && t < V));
    if (bad >= 0) throw new GenerateError(`decoder picked token ${s.tokens[bad]} for row ${bad}, outside the vocabulary [0, ${V})`);
  }
  const device = s.cacheKeys !== undefined;
  const keys = device ? s.cacheKeys! : s.newKeys;
  const values = device ? (s.cacheValues ?? []) : s.newValues;
  const [kName, vName, kvShape] = device ? ["cacheKeys", "cacheValues", [P + T, ...rest]] : ["newKeys", "newValues", [T, ...rest]];
  if (values.length !== keys.length) throw new GenerateError(`decoder returned keys for ${keys.length} layers but values for ${values.length}`);
  for (let l = 0; l < keys.length; l++) {
    want(keys[l], kvShape, `${kName}[${l}]`);
    want(values[l], kvShape, `${vName}[${l}]`);
  }
}

/** The rows' masks over the first S time steps as one [B, S] tensor (a memcpy per row). */
function maskTensor(rows: BigInt64Array[], S: number): Tensor<"int64"> {
  const data = new BigInt64Array(rows.length * S);
  rows.forEach((m, b) => data.set(m.subarray(0, S), b * S));
  return { dtype: "int64", shape: [rows.length, S], data };
}

function int64(shape: number[], values: number[]): Tensor<"int64"> {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return { dtype: "int64", shape, data };
}
