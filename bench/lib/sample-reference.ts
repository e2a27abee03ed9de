// The pre-change sampler, kept for comparison: libs/model/src/sampling/sample.ts as it was at commit ac5ac04
// (issue 22), before top-k/top-p moved to typed-array selection and greedy to one pass. bench/sampling.ts
// times it beside the current sampleToken in the same run. Only this header and the Rng import differ from
// that file; do not use it outside the benchmark.
// Next-token sampling from one row of logits: temperature, then top-k, then top-p (the order of
// transformers' logits warpers and vLLM's sampler), or greedy argmax at temperature 0.
//
// Log-prob convention (what `logprob` means): log softmax(logits / T)[token] — the temperature-scaled
// distribution over the FULL vocabulary, before top-k/top-p truncation. This is what the learner can
// recompute from a forward pass (verl's actor divides logits by the rollout temperature before
// log_softmax), so rollout log-probs and recomputed old log-probs agree and PPO ratios start at 1.
// Truncation is not part of it: it is a sampling-time filter the learner's distribution does not have.
// Greedy decoding (T = 0) reports log softmax(logits)[token], i.e. T = 1.
import { type Rng } from "@lspo/model";

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
  const max = rowMax(logits);
  if (p.temperature === 0) {
    const token = argmax(logits);
    return { token, logprob: tokenLogprob(logits, token, 1) };
  }
  if (!rng) throw new SamplingError("sampling at temperature > 0 needs a seeded rng");
  const V = logits.length;
  const inv = 1 / p.temperature;
  const m = max * inv;
  // e[i] = exp(logits[i] / T - m): softmax(logits / T) up to the factor 1 / z   [V], float64
  const e = scratch(V);
  let z = 0;
  for (let i = 0; i < V; i++) z += (e[i] = Math.exp(logits[i] * inv - m));
  const lse = m + Math.log(z);

  // Truncation, as transformers' warpers and vLLM do it: top-k, then top-p on the renormalised survivors.
  let kept: number[] | null = null; // null = the whole vocabulary
  let mass = z;
  if (p.topK > 0 && p.topK < V) {
    const kth = kthLargest(e.subarray(0, V), p.topK);
    kept = [];
    mass = 0;
    for (let i = 0; i < V; i++) if (e[i] >= kth) { kept.push(i); mass += e[i]; }
  }
  if (p.topP < 1) ({ kept, mass } = nucleus(e, kept ?? null, V, p.topP * mass));

  // Inverse CDF over the kept tokens.
  let u = rng.float() * mass;
  let token = -1;
  if (kept) {
    for (const i of kept) if ((u -= e[i]) < 0) { token = i; break; }
    if (token < 0) token = kept[kept.length - 1]; // u landed on the rounding residue
  } else {
    for (let i = 0; i < V; i++) if ((u -= e[i]) < 0) { token = i; break; }
    if (token < 0) token = lastNonZero(e.subarray(0, V));
  }
  return { token, logprob: logits[token] * inv - lse };
}

/**
 * The smallest set of most likely candidates whose (unnormalised) mass reaches `target`, the crossing
 * token included. Sorting a whole 150k vocabulary per token is slow, so only tokens above a threshold
 * are sorted: when those alone reach the target, the nucleus is a prefix of them (every other token is
 * smaller); otherwise the threshold drops and we try again.
 */
function nucleus(e: Float64Array, candidates: number[] | null, V: number, target: number): { kept: number[]; mass: number } {
  const all = candidates ?? Array.from({ length: V }, (_, i) => i);
  let top = 0;
  for (const i of all) top = Math.max(top, e[i]);
  for (let t = top / 64; ; t /= 1024) {
    const above = t > 1e-300 ? all.filter((i) => e[i] >= t) : all;
    let sum = 0;
    for (const i of above) sum += e[i];
    if (sum < target && above.length < all.length) continue;
    above.sort((a, b) => e[b] - e[a] || a - b);
    let mass = 0, n = 0;
    while (n < above.length && mass < target) mass += e[above[n++]];
    return { kept: above.slice(0, n), mass };
  }
}

let scratchBuf = new Float64Array(0);
/** A reusable float64 buffer of at least n elements (sampling is synchronous, so one is enough). */
function scratch(n: number): Float64Array {
  if (scratchBuf.length < n) scratchBuf = new Float64Array(n);
  return scratchBuf;
}

/** Max of a row, after checking it is samplable (no NaN or +Infinity, not all -Infinity). */
function rowMax(logits: Row): number {
  if (logits.length === 0) throw new SamplingError("logits row is empty");
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (Number.isNaN(x) || x === Infinity) throw new SamplingError(`logits[${i}] is ${x}: the model produced non-finite logits`);
    if (x > max) max = x;
  }
  if (max === -Infinity) throw new SamplingError("every logit is -Infinity: no token can be sampled");
  return max;
}

/** log sum_i exp(x_i * scale), stable. */
function logSumExp(x: Row, scale: number): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i] * scale);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i] * scale - m);
  return m + Math.log(s);
}

function lastNonZero(p: Float64Array): number {
  for (let i = p.length - 1; i >= 0; i--) if (p[i] > 0) return i;
  return 0;
}

/** The k-th largest value (1-based) by quickselect on a copy: O(V) expected. */
function kthLargest(values: Float64Array, k: number): number {
  const a = Float64Array.from(values);
  let lo = 0, hi = a.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target];
}
