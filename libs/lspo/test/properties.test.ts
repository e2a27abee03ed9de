import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createBatchSampler, createStreamSampler, orderStatisticsNames, quantileRank, restoreBatchSampler, restoreStreamSampler, type Group,
} from "@lspo/lspo";
import { levelsArb, streamArb } from "./arbitraries.js";
import { prng } from "./helpers.js";

/** i.i.d. groups with near-continuous mean lengths (ties have probability ~1e-6); 1 in 4 fails the accuracy filter. */
function iidGroups(seed: number, n: number): Group[] {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const lengths = [Math.floor(rand() * 1e6), Math.floor(rand() * 1e6)];
    return { uid: `g${i}`, lengths, rewards: rand() < 0.25 ? [1, 1] : [1, 0] };
  });
}

/** Groups whose mean lengths are distinct for sure (a shuffled 0..n-1), so the kept count is exact. */
function distinctGroups(seed: number, n: number): Group[] {
  const rand = prng(seed);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  return perm.map((v, i) => ({ uid: `d${i}`, lengths: [v, v], rewards: rand() < 0.25 ? [0, 0] : [1, 0] }));
}

const separated = levelsArb.filter((l) => l.lLow >= 0.05);

describe("properties - long-run kept fraction of survivors is lLow + (lMax - lHigh)", () => {
  it("stream mode, W = 400, after warm-up, within 0.03", () => {
    fc.assert(
      fc.property(separated, fc.nat(), fc.constantFrom(...orderStatisticsNames), (levels, seed, orderStatistics) => {
        const W = 400;
        const s = createStreamSampler({ batchSize: 64, window: W, ...levels, orderStatistics });
        let survivors = 0;
        let judged = 0;
        let kept = 0;
        for (const g of iidGroups(seed, 8000)) {
          const d = s.offer(g);
          if (d.outcome === "all-correct" || ++survivors < W) continue; // the window is full from the W-th survivor on
          judged++;
          if (d.kept) kept++;
        }
        expect(Math.abs(kept / judged - (levels.lLow + levels.lMax - levels.lHigh))).toBeLessThan(0.03);
      }),
      { numRuns: 8 },
    );
  });

  it("batch mode keeps exactly the ranks 1..k(lLow) and k(lHigh)..k(lMax) of n distinct survivors per generation batch", () => {
    fc.assert(
      fc.property(separated, fc.nat(), (levels, seed) => {
        const s = createBatchSampler({ batchSize: 1e9, ...levels, maxGenRounds: 0 });
        const groups = distinctGroups(seed, 2000);
        for (let r = 0; r < 4; r++) {
          const round = s.addGenerationBatch(groups.slice(r * 500, (r + 1) * 500));
          const n = round.thresholds!.windowFill;
          const kept = round.decisions.filter((d) => d.kept).length;
          // Ranks 1..kLow and kHigh..kMax, counted once where they meet (kHigh = kLow when lHigh = lLow).
          const [kLow, kHigh, kMax] = [levels.lLow, levels.lHigh, levels.lMax].map((a) => quantileRank(a, n));
          const expected = kLow + Math.max(0, kMax - Math.max(kHigh, kLow + 1) + 1);
          expect(kept).toBe(expected);
          expect(Math.abs(kept / n - (levels.lLow + levels.lMax - levels.lHigh))).toBeLessThanOrEqual(3 / n);
        }
      }),
      { numRuns: 20 },
    );
  });
});

describe("properties - a uid is never in two batches", () => {
  it("holds in both modes, fed singly or by generation batch, with redeliveries counted", () => {
    const arb = fc.record({
      groups: streamArb(200),
      B: fc.integer({ min: 1, max: 6 }),
      W: fc.integer({ min: 1, max: 30 }),
      N: fc.integer({ min: 1, max: 15 }),
      levels: levelsArb,
      how: fc.constantFrom("batch", "stream-single", "stream-units"),
      overflow: fc.constantFrom("carry", "discard"),
    });
    fc.assert(
      fc.property(arb, ({ groups, B, W, N, levels, how, overflow }) => {
        const uids: string[] = [];
        let dupes = 0;
        if (how === "batch") {
          const s = createBatchSampler({ batchSize: B, ...levels, maxGenRounds: 0 });
          for (let i = 0; i < groups.length; i += N) uids.push(...(s.addGenerationBatch(groups.slice(i, i + N)).batch?.uids ?? []));
          dupes = s.stats().duplicates;
        } else {
          const s = createStreamSampler({ batchSize: B, window: W, ...levels, overflow });
          if (how === "stream-single") for (const g of groups) uids.push(...(s.offer(g).batch?.uids ?? []));
          else for (let i = 0; i < groups.length; i += N) for (const b of s.offerGenerationBatch(groups.slice(i, i + N)).batches) uids.push(...b.uids);
          dupes = s.stats().duplicates;
        }
        expect(new Set(uids).size).toBe(uids.length);
        expect(dupes).toBe(groups.length - new Set(groups.map((g) => g.uid)).size);
      }),
      { numRuns: 200 },
    );
  });
});

describe("properties - snapshot -> JSON -> restore -> identical future", () => {
  const roundTrip = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

  it("stream mode: same decisions, batches, stats and final snapshot", () => {
    const arb = fc.record({
      groups: streamArb(150),
      split: fc.nat(),
      B: fc.integer({ min: 1, max: 6 }),
      W: fc.integer({ min: 1, max: 25 }),
      levels: levelsArb,
      windowCounts: fc.constantFrom("survivors", "arrivals"),
      warmup: fc.constantFrom("judge", "accept", "reject"),
      orderStatistics: fc.constantFrom(...orderStatisticsNames),
    });
    fc.assert(
      fc.property(arb, ({ groups, split, B, W, levels, windowCounts, warmup, orderStatistics }) => {
        const config = { batchSize: B, window: W, ...levels, windowCounts, warmup, orderStatistics };
        const k = groups.length === 0 ? 0 : split % (groups.length + 1);
        const a = createStreamSampler(config);
        const b = createStreamSampler(config);
        for (const g of groups.slice(0, k)) {
          a.offer(g);
          b.offer(g);
        }
        const snap = b.snapshot();
        expect(roundTrip(snap)).toEqual(snap); // plain JSON: nothing lost on the way
        const c = restoreStreamSampler(roundTrip(snap));
        for (const g of groups.slice(k)) expect(c.offer(g)).toEqual(a.offer(g));
        expect(c.stats()).toEqual(a.stats());
        expect(c.refillRequest(3)).toBe(a.refillRequest(3));
        expect(c.snapshot()).toEqual(a.snapshot());
      }),
      { numRuns: 200 },
    );
  });

  it("batch mode: same rounds, batches and stats", () => {
    fc.assert(
      fc.property(streamArb(120), fc.nat(), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 8 }), levelsArb, (groups, split, N, B, levels) => {
        const rounds = Array.from({ length: Math.ceil(groups.length / N) }, (_, r) => groups.slice(r * N, (r + 1) * N));
        const k = split % (rounds.length + 1);
        const config = { batchSize: B, ...levels, maxGenRounds: 0 };
        const a = createBatchSampler(config);
        rounds.slice(0, k).forEach((r) => a.addGenerationBatch(r));
        const c = restoreBatchSampler(roundTrip(a.snapshot()));
        for (const r of rounds.slice(k)) expect(c.addGenerationBatch(r)).toEqual(a.addGenerationBatch(r));
        expect(c.stats()).toEqual(a.stats());
        expect(c.snapshot()).toEqual(a.snapshot());
      }),
      { numRuns: 150 },
    );
  });
});
