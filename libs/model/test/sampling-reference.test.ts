// The sampler against a plain reference: the specification in sample.ts's header written the obvious way
// (V-sized arrays, a full sort per row), compared draw by draw on many rows, parameters and seeds, then the
// edge cases the typed-array selection has to get right, then the distribution of many draws.
import { describe, expect, it } from "vitest";
import { type Rng, createRng } from "../src/sampling/rng.js";
import { type SampledToken, type SamplingParams, sampleToken } from "../src/sampling/sample.js";

type Row = Float32Array | Float64Array;

/** The tokens the reference may draw, in the order its inverse CDF walks them, with their weights and mass. */
interface Kept {
  order: number[];
  w: number[];
  mass: number;
  /** log z + m: log sum exp(logits / T) over the whole row */
  lse: number;
  inv: number;
}

/** Temperature, then top-k (ties at the k-th kept), then top-p on the renormalised survivors. */
function referenceKept(logits: Row, p: SamplingParams): Kept {
  const x = Array.from(logits);
  const inv = 1 / p.temperature;
  const m = x.reduce((a, b) => Math.max(a, b)) * inv;
  const w = x.map((v) => Math.exp(v * inv - m));
  const z = w.reduce((a, b) => a + b, 0);
  const byWeight = (ids: number[]) => ids.slice().sort((a, b) => w[b] - w[a] || a - b);
  let order = x.map((_, i) => i);
  let mass = z;
  if (p.topK > 0 && p.topK < x.length) {
    const kth = w[byWeight(order)[p.topK - 1]];
    order = order.filter((i) => w[i] >= kth);
    mass = order.reduce((a, i) => a + w[i], 0);
  }
  if (p.topP < 1) {
    const sorted = byWeight(order);
    const target = p.topP * mass;
    let n = 0;
    for (mass = 0; n < sorted.length && mass < target; ) mass += w[sorted[n++]];
    order = sorted.slice(0, n);
  }
  return { order, w, mass, lse: m + Math.log(z), inv };
}

function referenceDraw(logits: Row, k: Kept, rng: Rng): SampledToken {
  let u = rng.float() * k.mass;
  let token = k.order.find((i) => (u -= k.w[i]) < 0);
  // u on the rounding residue: the last kept token with any weight
  token ??= [...k.order].reverse().find((i) => k.w[i] > 0) ?? k.order[0];
  return { token, logprob: logits[token] * k.inv - k.lse };
}

function referenceGreedy(logits: Row): SampledToken {
  const x = Array.from(logits);
  const max = x.reduce((a, b) => Math.max(a, b));
  const token = x.indexOf(max);
  return { token, logprob: x[token] - (max + Math.log(x.reduce((a, v) => a + Math.exp(v - max), 0))) };
}

/** Seeded normal draws (Box-Muller), scaled. */
function normals(V: number, scale: number, rng: Rng): number[] {
  return Array.from({ length: V }, () => Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float()) * scale);
}

/** Rows of the shapes the selection must handle, as float32 and float64. */
function rowKinds(V: number, seed: number): [string, Row][] {
  const rng = createRng(seed);
  const masked = normals(V, 2, rng).map((v, i) => (i > 0 && rng.float() < 0.3 ? -Infinity : v));
  const peaked = normals(V, 1, rng);
  for (let i = 0; i < Math.min(V, 6); i++) peaked[Math.floor(rng.float() * V)] += i === 0 ? 15 : 7;
  // 45 tokens well above the rest, all on the histogram's sampling stride (36 is a multiple of the strides 4
  // and 12 at the large V below): the sampled histogram overcounts them, and top-k 50 must fall back.
  const onStride = normals(V, 1, rng).map((v, i) => (i % 36 === 0 && i < 36 * 45 ? v + 12 : v));
  return [
    ["normal x3", Float32Array.from(normals(V, 3, rng))],
    ["normal x0.1", Float64Array.from(normals(V, 0.1, rng))],
    ["rounded (ties)", Float32Array.from(normals(V, 3, rng), Math.round)],
    ["30% masked", Float32Array.from(masked)],
    ["peaked", Float32Array.from(peaked)],
    ["raised on the sampling stride", Float32Array.from(onStride)],
    ["sorted geometric", Float64Array.from({ length: V }, (_, i) => i * Math.log(0.999))],
    ["all equal", new Float32Array(V)],
    ["underflowing (x400)", Float64Array.from(normals(V, 400, rng))],
  ];
}

const TEMPERATURES = [0, 0.25, 0.7, 1, 2];
const TOP_P = [1, 1 - 2 ** -53, 0.999, 0.9, 0.5, 0.1, 1e-6];
const topKs = (V: number) => [...new Set([0, 1, 2, 7, 50, V - 1, V, V + 3])].filter((k) => k >= 0);

/** Compares `draws` tokens of the sampler with the reference's from the same seed; returns how many it compared. */
function compareDraws(logits: Row, p: SamplingParams, seed: number, draws: number, label: string): number {
  const ours = createRng(seed), theirs = createRng(seed);
  const kept = p.temperature > 0 ? referenceKept(logits, p) : null;
  for (let d = 0; d < draws; d++) {
    const got = sampleToken(logits, p, ours);
    const want = kept ? referenceDraw(logits, kept, theirs) : referenceGreedy(logits);
    expect(got.token, `${label} draw ${d}`).toBe(want.token);
    expect(Math.abs(got.logprob - want.logprob), `${label} draw ${d}: logprob ${got.logprob} vs ${want.logprob}`).toBeLessThanOrEqual(1e-12);
  }
  return draws;
}

describe("sampling - the same draws as a plain reference (full sort, V-sized arrays)", () => {
  it("every parameter combination on small rows", () => {
    let compared = 0;
    for (const V of [1, 2, 3, 7, 64, 1000]) {
      for (const [kind, logits] of rowKinds(V, V)) {
        for (const temperature of TEMPERATURES) {
          for (const topK of topKs(V)) {
            for (const topP of TOP_P) {
              const p = { temperature, topK, topP };
              compared += compareDraws(logits, p, V * 1000 + topK, 4, `V=${V} ${kind} ${JSON.stringify(p)}`);
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(40_000);
  });

  // Above 2 * 8192 tokens the histogram samples every stride-th token (truncate.ts): its estimates, the
  // exactly counted heavy tokens and the fall-back to every token are all exercised here.
  it("large vocabularies, where the histogram is sampled", () => {
    let compared = 0;
    for (const V of [40_000, 100_000]) {
      for (const [kind, logits] of rowKinds(V, V)) {
        for (const p of [
          { temperature: 1, topK: 0, topP: 0.9 }, { temperature: 0.7, topK: 50, topP: 1 }, { temperature: 1, topK: 50, topP: 0.9 },
          { temperature: 2, topK: 0, topP: 0.5 }, { temperature: 0.25, topK: 0, topP: 1 - 2 ** -53 }, { temperature: 1, topK: 20_000, topP: 0.999 },
        ]) {
          compared += compareDraws(logits, p, V + p.topK, 10, `V=${V} ${kind} ${JSON.stringify(p)}`);
        }
      }
    }
    expect(compared).toBe(2 * 9 * 6 * 10);
  });
});

describe("sampling - edge cases", () => {
  const drawn = (logits: number[], p: SamplingParams, n = 400) => {
    const row = Float32Array.from(logits);
    const rng = createRng(5);
    return new Set(Array.from({ length: n }, () => sampleToken(row, p, rng).token));
  };
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

  it("top-k keeps every tie at the k-th value; top-p then orders ties by lower id", () => {
    const logits = [1, 3, 3, 3, 0, 3];
    expect(sorted(drawn(logits, { temperature: 1, topK: 2, topP: 1 }))).toEqual([1, 2, 3, 5]);
    // the four survivors weigh 1/4 each: a mass of 0.5 is reached by the two lowest ids
    expect(sorted(drawn(logits, { temperature: 1, topK: 2, topP: 0.5 }))).toEqual([1, 2]);
    compareDraws(Float32Array.from(logits), { temperature: 1, topK: 2, topP: 0.6 }, 9, 200, "ties");
  });

  it("top-p stops where the mass reaches the target exactly, and keeps all of it at 1 - 2^-53", () => {
    const equal = [0, 0, 0, 0]; // weights exactly 1, z = 4: the running sums 1, 2, 3, 4 are exact
    expect(sorted(drawn(equal, { temperature: 1, topK: 0, topP: 0.5 }))).toEqual([0, 1]);
    expect(sorted(drawn(equal, { temperature: 1, topK: 0, topP: 0.5 + 2 ** -52 }))).toEqual([0, 1, 2]);
    expect(sorted(drawn(equal, { temperature: 1, topK: 0, topP: 1 - 2 ** -53 }))).toEqual([0, 1, 2, 3]);
    // topP = 1 is off: the same draws as no truncation at all
    const row = Float32Array.from([0.3, -1, 2, 0.5, 0.5]);
    const a = createRng(3), b = createRng(3);
    for (let i = 0; i < 200; i++) expect(sampleToken(row, { temperature: 0.9, topK: 0, topP: 1 }, a)).toEqual(sampleToken(row, { temperature: 0.9, topK: 5, topP: 1 }, b));
  });

  it("never draws a -Infinity logit, even when top-k asks for more tokens than are unmasked", () => {
    const logits = [-Infinity, 0.5, -Infinity, 2, -Infinity, 1];
    for (const p of [
      { temperature: 1, topK: 0, topP: 1 }, { temperature: 1, topK: 5, topP: 1 }, { temperature: 3, topK: 5, topP: 0.999 },
      { temperature: 1, topK: 0, topP: 1 - 2 ** -53 }, { temperature: 0, topK: 0, topP: 1 },
    ]) {
      expect(sorted(drawn(logits, p)).every((t) => [1, 3, 5].includes(t)), JSON.stringify(p)).toBe(true);
      compareDraws(Float32Array.from(logits), p, 4, 100, `masked ${JSON.stringify(p)}`);
    }
    const one = Float64Array.from([-Infinity, -Infinity, 7, -Infinity]);
    expect(sampleToken(one, { temperature: 0.5, topK: 3, topP: 0.2 }, createRng(1))).toEqual({ token: 2, logprob: 0 });
  });

  it("V = 1 draws its one token with log-prob 0 under any parameters", () => {
    for (const p of [{ temperature: 0, topK: 0, topP: 1 }, { temperature: 1, topK: 1, topP: 0.1 }, { temperature: 0.3, topK: 5, topP: 1 }]) {
      expect(sampleToken(Float32Array.of(-3.5), p, createRng(2))).toEqual({ token: 0, logprob: 0 });
    }
  });

  it("greedy and sampling refuse the same bad rows with the same errors", () => {
    for (const p of [{ temperature: 0, topK: 0, topP: 1 }, { temperature: 1, topK: 2, topP: 0.9 }]) {
      expect(() => sampleToken(Float32Array.from([-Infinity, 1, NaN, Infinity]), p, createRng(1))).toThrow("logits[2] is NaN: the model produced non-finite logits");
      expect(() => sampleToken(Float64Array.from([-Infinity, Infinity, NaN]), p, createRng(1))).toThrow("logits[1] is Infinity: the model produced non-finite logits");
      expect(() => sampleToken(Float32Array.from([-Infinity, -Infinity]), p, createRng(1))).toThrow("every logit is -Infinity: no token can be sampled");
      expect(() => sampleToken(new Float32Array(0), p, createRng(1))).toThrow("logits row is empty");
    }
  });
});

describe("sampling - the distribution of many draws", () => {
  // Hoeffding for each token's frequency plus a union bound over the V tokens: with n draws, P(some token's
  // frequency is off its probability by more than eps) <= 2 V exp(-2 n eps^2). eps is set so that this is
  // 1e-6: a correct sampler fails with a given seed about once in a million seeds.
  const N = 200_000;
  const FAILURE = 1e-6;

  it.each([
    { temperature: 0.8, topK: 6, topP: 0.85 },
    { temperature: 1.3, topK: 0, topP: 0.7 },
    { temperature: 0.5, topK: 4, topP: 1 },
  ])("%o: 200k draws from V = 10 follow the truncated softmax", (p) => {
    const logits = Float32Array.from([0.2, 1.9, -0.7, 1.1, 1.1, 2.4, 0.6, -2, 1.5, 0.9]);
    const V = logits.length;
    const kept = referenceKept(logits, p);
    const expected = new Array<number>(V).fill(0);
    for (const i of kept.order) expected[i] = kept.w[i] / kept.mass;
    const counts = new Array<number>(V).fill(0);
    const rng = createRng(2024);
    for (let d = 0; d < N; d++) counts[sampleToken(logits, p, rng).token]++;
    const eps = Math.sqrt(Math.log((2 * V) / FAILURE) / (2 * N)); // 0.0065
    for (let i = 0; i < V; i++) {
      if (expected[i] === 0) expect(counts[i], `token ${i} is truncated away`).toBe(0);
      else expect(Math.abs(counts[i] / N - expected[i]), `token ${i}`).toBeLessThanOrEqual(eps);
    }
  });
});
