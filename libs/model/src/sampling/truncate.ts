// Top-k and top-p over one row's weights w[i] = exp(logits[i] / T - max / T) (softmax up to 1 / z), without
// V-sized JS arrays or a sort of the vocabulary: at V = 152k those cost tens of ms per token.
//
// A histogram of the weights by distance below the max says where the k largest weights, or the top-p mass,
// end; only tokens at or above that threshold are gathered into typed scratch, and only those are selected
// (top-k) or sorted (top-p). Every token left out weighs less than every token gathered, so the result is the
// one a full sort gives; when the gathered tokens fall short (the histogram is an estimate, see below), every
// token is gathered instead: correct, just slower.
//
// The histogram is built from every stride-th token (about SAMPLE of them): counting every token of a 152k row
// would cost more than its exp pass. Sampling alone misjudges top-p on a peaked row, whose mass sits in a few
// tokens the stride may skip, so top-p also gathers every token heavy enough to matter, and then judges its
// threshold exactly on what it gathered: the mass it left out is z minus the mass it gathered.
//
// Draws match a full sort draw by draw: the same masses summed in the same order, the same walk for the
// inverse CDF. Tokens of equal weight are interchangeable in both sums, so sorting the weights alone is
// enough; the token at a sorted position is then found by id among its ties.
import { type Rng } from "./rng.js";
import { type SamplingParams, type WeightedRow } from "./sample.js";
import { sortWeights } from "./sort-weights.js";

const BUCKETS = 2048;
const LAST = BUCKETS - 1;
/** exp(-746) is 0 in float64: farther below the max every weight is 0, so the buckets need not reach there. */
const UNDERFLOW_NATS = 746;
/** A bucket's lower edge, lowered by this relative margin, is a weight every token in it reaches despite rounding. */
const EDGE_MARGIN = 1e-9;
/** About this many tokens of a row go into its histogram (all of them below 2 * SAMPLE). */
const SAMPLE = 8192;
/** Top-k gathers this many standard deviations of the sampled count's error beyond k. */
const COUNT_SIGMAS = 3;
/** Top-p gathers what the sampled histogram puts above this share of the mass it may leave out (z - target)... */
const ESTIMATE_SHARE = 0.7;
/** ...and every token weighing more than 1/HEAVY_PARTS of that mass divided by the stride, which the sample may miss. */
const HEAVY_PARTS = 128;
/** Of the gathered tokens, top-p then sorts those above this share of the mass it may leave out, judged exactly. */
const EXACT_SHARE = 0.99;

/** Count and mass of the weights (estimated, or exact for gathered candidates) by distance below the max, in equal buckets over [0, span]; the
 *  last bucket also takes every token beyond (masked tokens, underflowed weights). */
const count = new Float64Array(BUCKETS);
const mass = new Float64Array(BUCKETS);
let bucketsPerNat = 0;

// Candidates: token ids in id order and their weights, reused (sampling is synchronous).
let ids = new Int32Array(0);
let values = new Float64Array(0);

/** The token drawn after top-k, then top-p on the renormalised survivors (at least one of them on). */
export function drawTruncated(row: WeightedRow, p: SamplingParams, rng: Rng): number {
  const { w, z } = row;
  const V = row.logits.length;
  if (ids.length < V) {
    ids = new Int32Array(V);
    values = new Float64Array(V);
  }
  const stride = Math.max(1, Math.floor(V / SAMPLE));
  if (p.topK > 0 && p.topK < V) {
    const { n, keptMass } = topK(row, p.topK, stride);
    if (p.topP === 1) return drawInIdOrder(w, n, keptMass, rng);
    for (let i = 0; i < n; i++) values[i] = w[ids[i]];
    return drawNucleus(w, n, p.topP * keptMass, n, rng);
  }
  const target = p.topP * z;
  return drawNucleus(w, nucleusCandidates(row, stride, z - target), target, V, rng);
}

/**
 * Gathers the candidates of the nucleus, which may leave out a mass of `leftOut`, in one pass over the row:
 * the tokens above the sampled histogram's estimate of its edge, and every heavy one. The edge is then found
 * again exactly, from a histogram of what was gathered, and only the tokens above it are kept.
 */
function nucleusCandidates(row: WeightedRow, stride: number, leftOut: number): number {
  const { w, z } = row;
  const V = row.logits.length;
  // Tokens farther than ln(V z / leftOut) = ln(V / (1 - topP)) below the max weigh less than (1 - topP) / V
  // each, and since z >= 1 (the max weighs 1) all of them together less than leftOut: no bucket need reach there.
  histogramOfSample(row, stride, Math.log((V * z) / leftOut));
  const floor = Math.min(edgeOf(edgeBucket(ESTIMATE_SHARE * leftOut, 0)), leftOut / (HEAVY_PARTS * stride));
  const n = gather(w, V, floor);
  let gatheredMass = 0;
  for (let i = 0; i < n; i++) gatheredMass += values[i];
  histogramOfCandidates(row, n);
  const edge = edgeOf(edgeBucket(EXACT_SHARE * leftOut, z - gatheredMass));
  if (edge <= floor) return n;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] >= edge) {
      ids[kept] = ids[i];
      values[kept++] = values[i];
    }
  }
  return kept;
}

/** The bucket where the nucleus's edge lies: walking up from the lightest bucket, starting from a mass `below`
 *  that the histogram does not hold, the first bucket whose mass would take what is left out above `allowed`. */
function edgeBucket(allowed: number, below: number): number {
  let j = LAST;
  while (j > 0 && below + mass[j] <= allowed) below += mass[j--];
  return j;
}

/**
 * The top-k survivors, left as the first n candidates: every token whose weight reaches the k-th largest (ties
 * at the k-th kept, as transformers does), in id order, and their mass summed in id order.
 */
function topK(row: WeightedRow, k: number, stride: number): { n: number; keptMass: number } {
  const { logits, inv, m, w } = row;
  const V = logits.length;
  let span = 0; // the farthest sampled token with any weight
  for (let i = 0; i < V; i += stride) if (w[i] > 0) span = Math.max(span, m - logits[i] * inv);
  histogramOfSample(row, stride, span);
  const goal = k + (stride > 1 ? COUNT_SIGMAS * Math.sqrt(k * stride) + stride : 0);
  let j = 0;
  for (let total = count[0]; total < goal && j < LAST; ) total += count[++j];
  let n = gather(w, V, edgeOf(j));
  if (n < k) n = gather(w, V, 0);
  const kth = kthLargest(values.subarray(0, n), k);
  let kept = 0, keptMass = 0;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (w[id] >= kth) {
      ids[kept++] = id;
      keptMass += w[id];
    }
  }
  return { n: kept, keptMass };
}

function drawInIdOrder(w: Float64Array, n: number, total: number, rng: Rng): number {
  let u = rng.float() * total;
  for (let i = 0; i < n; i++) if ((u -= w[ids[i]]) < 0) return ids[i];
  // u landed on the rounding residue: the last survivor that has any weight
  for (let i = n - 1; i > 0; i--) if (w[ids[i]] > 0) return ids[i];
  return ids[0];
}

/**
 * Top-p: the smallest set of most likely candidates whose mass, summed from the largest weight down, reaches
 * `target` (the crossing token included; all of them if rounding keeps the sum below it); ties order by lower
 * token id first. Candidates are the first n ids and values; when they are the part of a row of `rowLength`
 * tokens above a threshold and fall short of the target, every token of the row is gathered instead.
 */
function drawNucleus(w: Float64Array, n: number, target: number, rowLength: number, rng: Rng): number {
  let sorted = values.subarray(0, n); // ascending: the nucleus is read from the end
  sortWeights(sorted);
  let { kept, keptMass } = prefixReaching(sorted, target);
  if (keptMass < target && n < rowLength) {
    n = gather(w, rowLength, 0);
    sorted = values.subarray(0, n);
    sortWeights(sorted);
    ({ kept, keptMass } = prefixReaching(sorted, target));
  }
  let u = rng.float() * keptMass;
  let at = n - 1; // the drawn position in `sorted`, walking down from the largest weight
  const last = n - kept;
  while (at >= last && (u -= sorted[at]) >= 0) at--;
  if (at < last) for (at = last; at < n - 1 && sorted[at] === 0; ) at++; // residue: the last kept token with weight
  return tieAt(w, sorted, at);
}

/** How many of the largest `sorted` values it takes for their sum, from the largest down, to reach `target`. */
function prefixReaching(sorted: Float64Array, target: number): { kept: number; keptMass: number } {
  let kept = 0, keptMass = 0;
  while (kept < sorted.length && keptMass < target) keptMass += sorted[sorted.length - 1 - kept++];
  return { kept, keptMass };
}

/** The token at position `at` of the ascending `sorted` candidate weights, whose ties stand in descending order of id. */
function tieAt(w: Float64Array, sorted: Float64Array, at: number): number {
  const v = sorted[at];
  let rank = 0; // equal weights drawn before it, i.e. standing above it, which belong to lower ids
  while (at + rank + 1 < sorted.length && sorted[at + rank + 1] === v) rank++;
  for (let i = 0; i < sorted.length; i++) if (w[ids[i]] === v && rank-- === 0) return ids[i];
  throw new Error("unreachable: a sorted weight is not among the candidates");
}

/** The histogram of every stride-th token, each standing for `stride` tokens, with buckets over [0, span]. */
function histogramOfSample(row: WeightedRow, stride: number, span: number): void {
  const { logits, inv, m, w } = row;
  const V = logits.length;
  const perNat = (bucketsPerNat = span > 0 ? LAST / Math.min(span, UNDERFLOW_NATS) : 0);
  count.fill(0);
  mass.fill(0);
  for (let i = 0; i < V; i += stride) {
    const j = bucketOf((m - logits[i] * inv) * perNat);
    count[j] += stride;
    mass[j] += stride * w[i];
  }
}

/** The exact mass histogram of the first n candidates, in the sample's buckets. */
function histogramOfCandidates(row: WeightedRow, n: number): void {
  const { logits, inv, m } = row;
  mass.fill(0);
  for (let i = 0; i < n; i++) mass[bucketOf((m - logits[ids[i]] * inv) * bucketsPerNat)] += values[i];
}

/** Distances beyond the last bucket, and NaN (a masked token when perNat is 0), land in the last bucket. */
const bucketOf = (b: number): number => (b < LAST ? b | 0 : LAST);

/** A weight that every token in buckets 0..j reaches: bucket j's lower edge less a margin; 0 for the last bucket. */
function edgeOf(j: number): number {
  return j < LAST ? Math.exp(-(j + 1) / bucketsPerNat) * (1 - EDGE_MARGIN) : 0;
}

/** Puts every token of the first V of the row whose weight reaches `floor` into ids/values, in id order. */
function gather(w: Float64Array, V: number, floor: number): number {
  let n = 0;
  for (let i = 0; i < V; i++) {
    if (w[i] >= floor) {
      ids[n] = i;
      values[n++] = w[i];
    }
  }
  return n;
}

/** The k-th largest value (1-based) by quickselect, reordering `a` in place: O(n) expected. */
function kthLargest(a: Float64Array, k: number): number {
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
