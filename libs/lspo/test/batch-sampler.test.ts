import { describe, expect, it } from "vitest";
import { createBatchSampler, GenRoundsExceededError, InvalidConfigError, InvalidGroupError } from "@lspo/lspo";
import { allEqual, mixed } from "./helpers.js";

// Worked by hand. Survivors g2..g9 have mean lengths 100 40 70 10 90 55 20 80; sorted
// 10 20 40 55 70 80 90 100 (n = 8): Q(0.30) = 3rd = 40, Q(0.65) = ceil(5.2) = 6th = 80,
// Q(0.95) = ceil(7.6) = 8th = 100. Kept: L <= 40 (g3 g5 g8) and 80 <= L <= 100 (g2 g6 g9);
// dropped: g4 (70) and g7 (55) as middle-length; g0 all-correct, g1 all-wrong.
const round1 = [
  allEqual("g0", 1),
  allEqual("g1", 0),
  mixed("g2", 100),
  mixed("g3", 40),
  mixed("g4", 70),
  mixed("g5", 10),
  mixed("g6", 90),
  mixed("g7", 55),
  mixed("g8", 20),
  mixed("g9", 80),
];

describe("batch sampler - the paper's rule, worked by hand", () => {
  it("filters by accuracy, takes quantiles over the survivors and keeps both bands inclusively", () => {
    const s = createBatchSampler({ batchSize: 10 });
    const r = s.addGenerationBatch(round1);
    expect(r.thresholds).toEqual({ low: 40, high: 80, max: 100, windowFill: 8 });
    expect(r.decisions.map((d) => `${d.uid}:${d.outcome}`)).toEqual([
      "g0:all-correct", "g1:all-wrong", "g2:long", "g3:short", "g4:middle-length",
      "g5:short", "g6:long", "g7:middle-length", "g8:short", "g9:long",
    ]);
    expect(r.decisions[2].length).toBe(100);
    expect(r.batch).toBeNull();
    expect(s.stats()).toMatchObject({ offered: 10, accepted: 6, rejected: 4, acceptanceRate: 0.6, pending: 6, genRounds: 1 });
  });

  it("emits exactly the first B kept groups in arrival order and drops the rest of that pending list", () => {
    const s = createBatchSampler({ batchSize: 4 });
    const r = s.addGenerationBatch(round1);
    expect(r.batch?.uids).toEqual(["g2", "g3", "g5", "g6"]);
    expect(r.batch?.index).toBe(0);
    expect(r.batch?.thresholds).toEqual({ low: 40, high: 80, max: 100, windowFill: 8 });
    expect(s.stats()).toMatchObject({ pending: 0, discardedOverflow: 2, batchesEmitted: 1, groupsEmitted: 4, genRounds: 0 });
  });

  it("fills a batch over several rounds, recomputing thresholds per generation batch", () => {
    const s = createBatchSampler({ batchSize: 8 });
    expect(s.addGenerationBatch(round1).batch).toBeNull(); // 6 pending
    // Round 2, survivors 5 15 25 35 (n = 4): Q = 2nd (ceil 1.2) = 15, 3rd (ceil 2.6) = 25, 4th = 35.
    const r = s.addGenerationBatch([mixed("h0", 35), mixed("h1", 5), allEqual("h2", 0), mixed("h3", 25), mixed("h4", 15)]);
    expect(r.thresholds).toEqual({ low: 15, high: 25, max: 35, windowFill: 4 });
    expect(r.decisions.map((d) => d.outcome)).toEqual(["long", "short", "all-wrong", "long", "short"]);
    expect(r.batch?.uids).toEqual(["g2", "g3", "g5", "g6", "g8", "g9", "h0", "h1"]);
    expect(s.stats().discardedOverflow).toBe(2); // h3, h4
  });

  it("drops L > Q(lMax): 20 survivors 1..20 keep 1..6 and 13..19", () => {
    const s = createBatchSampler({ batchSize: 100 });
    const r = s.addGenerationBatch(Array.from({ length: 20 }, (_, i) => mixed(`p${i + 1}`, i + 1)));
    const kept = r.decisions.filter((d) => d.kept).map((d) => d.length);
    expect(kept).toEqual([1, 2, 3, 4, 5, 6, 13, 14, 15, 16, 17, 18, 19]);
    expect(r.decisions[19].outcome).toBe("too-long");
    expect(s.stats().outcomes).toMatchObject({ short: 6, long: 7, "middle-length": 6, "too-long": 1 });
  });

  it("with the length filter off keeps every survivor", () => {
    const s = createBatchSampler({ batchSize: 100, lengthFilter: false });
    const r = s.addGenerationBatch(round1);
    expect(r.decisions.filter((d) => d.kept).length).toBe(8);
    expect(r.decisions[4].outcome).toBe("unfiltered");
  });

  it("counts duplicates and leaves them out of the quantiles", () => {
    const s = createBatchSampler({ batchSize: 100 });
    s.addGenerationBatch([mixed("a", 10), mixed("b", 20)]);
    // "a" again (now with length 1000) and a repeat inside the round: neither is judged nor enters the sample.
    const r = s.addGenerationBatch([mixed("a", 1000), mixed("c", 30), mixed("c", 31), mixed("d", 40)]);
    expect(r.decisions.map((d) => d.outcome)).toEqual(["duplicate", "short", "duplicate", "long"]);
    expect(r.thresholds).toEqual({ low: 30, high: 40, max: 40, windowFill: 2 });
    expect(s.stats()).toMatchObject({ offered: 6, duplicates: 2, accepted: 4 });
  });

  it("raises GenRoundsExceededError when maxGenRounds rounds leave the batch unfilled", () => {
    const s = createBatchSampler({ batchSize: 4, maxGenRounds: 2 });
    expect(s.addGenerationBatch([allEqual("a", 1), mixed("b", 10)]).batch).toBeNull();
    let err: unknown;
    try {
      s.addGenerationBatch([allEqual("c", 0), allEqual("d", 1)]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GenRoundsExceededError);
    expect((err as Error).message).toContain("2 generation rounds kept only 1 of the 4 groups");
    expect((err as Error).message).toContain("maxGenRounds: 0 for no cap");
    // Every further unfilled round fails again, still naming the configured cap.
    expect(() => s.addGenerationBatch([allEqual("e", 0)])).toThrow("3 generation rounds kept only 1 of the 4 groups a training batch needs (maxGenRounds = 2)");
  });

  it("has no cap with maxGenRounds 0", () => {
    const s = createBatchSampler({ batchSize: 4, maxGenRounds: 0 });
    for (let i = 0; i < 50; i++) s.addGenerationBatch([allEqual(`x${i}`, 0)]);
    expect(s.stats().genRounds).toBe(50);
  });

  it("classifies all-equal groups by unanimous correct flags first, else by reward > correctAbove", () => {
    const s = createBatchSampler({ batchSize: 100 });
    const r = s.addGenerationBatch([
      { uid: "pm1", lengths: [3, 4], rewards: [-1, -1] },
      { uid: "p1", lengths: [3, 4], rewards: [1, 1] },
      { uid: "flags", lengths: [3, 4], rewards: [0, 0], correct: [true, true] }, // correct but shaped to 0
      { uid: "split", lengths: [3, 4], rewards: [0.5, 0.5], correct: [true, false] }, // no unanimity: reward decides
    ]);
    expect(r.decisions.map((d) => d.outcome)).toEqual(["all-wrong", "all-correct", "all-correct", "all-correct"]);
    expect(r.thresholds).toBeNull();
  });

  it("validates the whole generation batch before changing any state", () => {
    const s = createBatchSampler({ batchSize: 4 });
    const bad = { uid: "z", lengths: [1, -2], rewards: [0, 1] };
    expect(() => s.addGenerationBatch([mixed("ok", 3), bad as never])).toThrow("generation batch item 1: field 'lengths[1]' must be a non-negative integer token count, got -2");
    expect(() => s.addGenerationBatch([mixed("ok", 3), bad as never])).toThrow(InvalidGroupError);
    expect(s.stats().offered).toBe(0);
  });

  it("rejects bad options naming them", () => {
    expect(() => createBatchSampler({})).toThrow("option 'batchSize' is required");
    expect(() => createBatchSampler({ batchSize: 4, lLow: 1.5 })).toThrow("option 'lLow' must be a number in [0, 1], got 1.5");
    expect(() => createBatchSampler({ batchSize: 4, lHigh: 0.2 })).toThrow("option 'lHigh' (0.2) must be >= lLow (0.3)");
    expect(() => createBatchSampler({ batchSize: 4, window: 8 })).toThrow("unknown option 'window'. Valid options: batchSize, lLow");
    expect(() => createBatchSampler({ batchSize: 0 })).toThrow(InvalidConfigError);
  });
});
