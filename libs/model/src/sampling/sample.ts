// Next-token sampling from one row of logits: temperature, then top-k, then top-p (the order of
// transformers' logits warpers and vLLM's sampler), or greedy argmax at temperature 0.
//
// Log-prob convention (what `logprob` means): log softmax(logits / T)[token] — the temperature-scaled
// distribution over the FULL vocabulary, before top-k/top-p truncation. This is what the learner can
// recompute from a forward pass (verl's actor divides logits by the rollout temperature before
// log_softmax), so rollout log-probs and recomputed old log-probs agree and PPO ratios start at 1.
// Truncation is not part of it: it is a sampling-time filter the learner's distribution does not have.
// Greedy decoding (T = 0) reports log softmax(logits)[token], i.e. T = 1.
//
// Cost per row is a few passes over typed arrays and no V-sized JS array (issue 22): greedy is one pass (and
// generate()'s in-place greedy decode steps skip it: the decoder picks in the graph, OnnxDecoder.greedyStep),
// sampling a check of the row, one exp pass and the draw; top-k and top-p add a sampled histogram, a gather
// and a selection or sort of the candidates only (truncate.ts). The exp pass is most of it, so it runs on our
// own exp (exp.ts: inlined by the JIT, within one ulp of Math.exp), four tokens per iteration.
import { exp } from "./exp.js";
import { type Rng } from "./rng.js";
import { drawTruncated } from "./truncate.js";

export class SamplingError extends Error {
  override name = "SamplingError";
}

export interface SamplingParams {
  /** Softmax temperature; 0 = greedy (argmax, no randomness). */
  temperature: number;
  /** Keep only the k most likely tokens (ties at the k-th value kept, as transformers does); 0 = off. */
  topK: number;
  /** Nucleus: keep the most likely tokens until their mass reaches topP (the crossing token included),
   *  measured on the distribution renormalised over the top-k survivors; 1 = off. */
  topP: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topK: 0, topP: 1 };

export interface SampledToken {
  token: number;
  /** log softmax(logits / T)[token] over the full vocabulary (T = 1 when greedy). */
  logprob: number;
}

export function validateSamplingParams(p: SamplingParams): void {
  if (!(p.temperature >= 0) || !Number.isFinite(p.temperature)) throw new SamplingError(`temperature must be a finite number >= 0, got ${p.temperature}`);
  if (!Number.isInteger(p.topK) || p.topK < 0) throw new SamplingError(`topK must be an integer >= 0 (0 = off), got ${p.topK}`);
  if (!(p.topP > 0 && p.topP <= 1)) throw new SamplingError(`topP must be in (0, 1] (1 = off), got ${p.topP}`);
}

type Row = Float32Array | Float64Array;

/** One row's weights w[i] = exp(logits[i] * inv - m) (softmax(logits / T) up to the factor 1 / z), m = max * inv,
 *  and their sum z in id order. */
export interface WeightedRow {
  logits: Row;
  inv: number;
  m: number;
  w: Float64Array;
  z: number;
}

/** Index of the largest logit (the first one on ties, as torch.argmax). */
export function argmax(logits: Row): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** log softmax(logits / temperature)[token] in float64; temperature 0 counts as 1. */
export function tokenLogprob(logits: Row, token: number, temperature = 1): number {
  const inv = temperature > 0 ? 1 / temperature : 1;
  return logits[token] * inv - logSumExp(logits, inv);
}

/** Draws one token. `rng` may be null only for greedy decoding. */
export function sampleToken(logits: Row, p: SamplingParams, rng: Rng | null): SampledToken {
  if (p.temperature === 0) return greedy(logits);
  const max = rowMax(logits);
  const inv = 1 / p.temperature;
  const m = max * inv;
  const w = scratch(logits.length);
  const z = weigh(logits, inv, m, w);
  if (Number.isNaN(z)) checkRow(logits); // a NaN logit, which rowMax's comparisons pass over
  if (!rng) throw new SamplingError("sampling at temperature > 0 needs a seeded rng");
  const row: WeightedRow = { logits, inv, m, w, z };
  // Truncation, as transformers' warpers and vLLM do it: top-k, then top-p on the renormalised survivors.
  const truncated = (p.topK > 0 && p.topK < logits.length) || p.topP < 1;
  const token = truncated ? drawTruncated(row, p, rng) : drawInRowOrder(w, logits.length, z, rng);
  return { token, logprob: logits[token] * inv - (m + Math.log(z)) };
}

/**
 * Greedy: the first argmax with log softmax(logits)[argmax], in one pass that also checks the row. The sum of
 * exp(logit - max) is kept relative to the running max and rescaled when the max moves (as online softmax
 * does), so at the end log-sum-exp = max + log(sum).
 */
function greedy(logits: Row): SampledToken {
  if (logits.length === 0) throw new SamplingError("logits row is empty");
  const V = logits.length;
  let max = -Infinity, token = -1, sum = 0;
  for (let i = 0; i < V; i++) {
    const x = logits[i];
    if (x > max) {
      if (x === Infinity) throw nonFinite(i, x);
      sum = sum * exp(max - x) + 1;
      max = x;
      token = i;
    } else if (x > -Infinity) sum += exp(x - max);
    else if (x !== -Infinity) throw nonFinite(i, x); // NaN
  }
  if (token < 0) throw allMasked();
  return { token, logprob: max - (max + Math.log(sum)) };
}

/** w[i] = exp(logits[i] * inv - m); returns their sum in id order. */
function weigh(logits: Row, inv: number, m: number, w: Float64Array): number {
  const V = logits.length; // a local bound: the loop's stores would otherwise make V8 reload the length
  let z = 0;
  let i = 0;
  // Four tokens per iteration: their exps are independent, and V8 does not unroll loops itself; this pass
  // is most of a row's sampling time, and the unrolled loop takes about a quarter less (same sum, same order).
  for (; i + 3 < V; i += 4) {
    const w0 = exp(logits[i] * inv - m), w1 = exp(logits[i + 1] * inv - m);
    const w2 = exp(logits[i + 2] * inv - m), w3 = exp(logits[i + 3] * inv - m);
    w[i] = w0;
    w[i + 1] = w1;
    w[i + 2] = w2;
    w[i + 3] = w3;
    z += w0;
    z += w1;
    z += w2;
    z += w3;
  }
  for (; i < V; i++) z += (w[i] = exp(logits[i] * inv - m));
  return z;
}

/** Inverse CDF over the whole row. */
function drawInRowOrder(w: Float64Array, V: number, z: number, rng: Rng): number {
  let u = rng.float() * z;
  for (let i = 0; i < V; i++) if ((u -= w[i]) < 0) return i;
  // u landed on the rounding residue: the last token that has any weight
  for (let i = V - 1; i > 0; i--) if (w[i] > 0) return i;
  return 0;
}

let scratchBuf = new Float64Array(0);
/** A reusable float64 buffer of at least n elements (sampling is synchronous, so one is enough). */
function scratch(n: number): Float64Array {
  if (scratchBuf.length < n) scratchBuf = new Float64Array(n);
  return scratchBuf;
}

/**
 * Max of a row, checked for +Infinity and for every logit being -Infinity. The comparisons pass over NaN; the
 * caller finds it in the sum of the weights (exp(NaN) is NaN), which saves a test per logit here.
 */
function rowMax(logits: Row): number {
  if (logits.length === 0) throw new SamplingError("logits row is empty");
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (max === Infinity || max === -Infinity) checkRow(logits);
  return max;
}

/** Throws for the first NaN or +Infinity logit, or for a row of -Infinity only, as the scan finds them. */
function checkRow(logits: Row): void {
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (Number.isNaN(x) || x === Infinity) throw nonFinite(i, x);
  }
  if (logits.every((x) => x === -Infinity)) throw allMasked();
}

const nonFinite = (i: number, x: number) => new SamplingError(`logits[${i}] is ${x}: the model produced non-finite logits`);
const allMasked = () => new SamplingError("every logit is -Infinity: no token can be sampled");

/** log sum_i exp(x_i * scale), stable. */
function logSumExp(x: Row, scale: number): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i] * scale);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += exp(x[i] * scale - m);
  return m + Math.log(s);
}
