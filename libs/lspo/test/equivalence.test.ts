import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createBatchSampler, createStreamSampler, orderStatisticsNames, type Group } from "@lspo/lspo";
import { groupBodyArb, levelsArb } from "./arbitraries.js";
import { allEqual, mixed } from "./helpers.js";

// The claim: with W = N (the generation batch size), groups fed one generation batch at a time
// (offerGenerationBatch: every member's slot enters the window before any member is judged), a window
// that counts arrivals (so that after a batch it holds exactly that batch's survivors) and overflow
// "discard", the streaming sampler makes the same decision on every group and emits the same batches,
// with the same thresholds, as the paper's batch mode.
describe("equivalence - stream mode with W = generation batch reproduces batch mode", () => {
  it("same decisions, same batches, same thresholds, for any data, levels and B", () => {
    const arb = fc.record({
      N: fc.integer({ min: 1, max: 12 }),
      rounds: fc.integer({ min: 1, max: 8 }),
      B: fc.integer({ min: 1, max: 10 }),
      levels: levelsArb,
      warmup: fc.constantFrom("judge", "accept", "reject"),
      orderStatistics: fc.constantFrom(...orderStatisticsNames),
      lengthFilter: fc.boolean(),
      bodies: fc.array(groupBodyArb, { minLength: 96, maxLength: 96 }),
      dupes: fc.array(fc.nat(), { minLength: 96, maxLength: 96 }),
    });
    fc.assert(
      fc.property(arb, ({ N, rounds, B, levels, warmup, orderStatistics, lengthFilter, bodies, dupes }) => {
        const groups: Group[] = bodies.slice(0, N * rounds).map((b, i) => ({ uid: dupes[i] % 7 === 0 && i > 0 ? `u${dupes[i] % i}` : `u${i}`, ...b }));
        const batch = createBatchSampler({ batchSize: B, ...levels, lengthFilter, maxGenRounds: 0 });
        const stream = createStreamSampler({
          batchSize: B, ...levels, lengthFilter, window: N, windowCounts: "arrivals", overflow: "discard", warmup, orderStatistics,
        });
        for (let r = 0; r < rounds; r++) {
          const chunk = groups.slice(r * N, (r + 1) * N);
          const a = batch.addGenerationBatch(chunk);
          const b = stream.offerGenerationBatch(chunk);
          expect(b.decisions).toEqual(a.decisions);
          expect(b.batches).toEqual(a.batch ? [a.batch] : []);
        }
        const { smoothedAcceptance: _s, window: _w, genRounds: _g, thresholds: _t, ...common } = stream.stats();
        expect(common).toEqual((({ smoothedAcceptance, window, genRounds, thresholds, ...rest }) => rest)(batch.stats()));
      }),
      { numRuns: 300 },
    );
  });

  it("does not hold with a window of survivors: older survivors stay in the sample (worked example)", () => {
    // N = W = 10. Round 1: ten survivors 1..10. Round 2: five fail, five survive with 50..54.
    const round1 = Array.from({ length: 10 }, (_, i) => mixed(`a${i}`, i + 1));
    const round2 = [...Array.from({ length: 5 }, (_, i) => allEqual(`f${i}`, 0)), ...[50, 51, 52, 53, 54].map((L) => mixed(`b${L}`, L))];
    const judge = (windowCounts: "survivors" | "arrivals") => {
      const s = createStreamSampler({ batchSize: 100, window: 10, windowCounts });
      s.offerGenerationBatch(round1);
      return s.offerGenerationBatch(round2).decisions.slice(5).map((d) => d.outcome);
    };
    const batch = createBatchSampler({ batchSize: 100 });
    batch.addGenerationBatch(round1);
    // Batch mode, survivors 50..54 (n = 5): Q = 2nd 51, 4th 53, 5th 54.
    const paper = batch.addGenerationBatch(round2).decisions.slice(5).map((d) => d.outcome);
    expect(paper).toEqual(["short", "short", "middle-length", "long", "long"]);
    expect(judge("arrivals")).toEqual(paper);
    // Survivors window: 6..10 and 50..54 (n = 10): Q = 3rd 8, 7th 51, 10th 54.
    expect(judge("survivors")).toEqual(["middle-length", "long", "long", "long", "long"]);
  });
});
