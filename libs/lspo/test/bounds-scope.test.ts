// The two choices the paper leaves open, as options: strict vs inclusive quantile bounds (both modes), and
// batch mode's quantile sample (this generation batch, or every round's survivors since the last batch).
import { describe, expect, it } from "vitest";
import { createBatchSampler, createStreamSampler, judgeLength, restoreBatchSampler } from "../src/index.js";

const levels = { lLow: 0.3, lHigh: 0.65, lMax: 0.95 };
// Q(0.3) = 2, Q(0.65) = 3, Q(0.95) = 4 (the quantiles of [1, 2, 3, 4]).
const Q = (a: number) => (a === 0.3 ? 2 : a === 0.65 ? 3 : 4);
const mixed = (uid: string, len: number) => ({ uid, lengths: [len, len], rewards: [1, 0] });

describe("lspo - bounds", () => {
  it("inclusive keeps the lengths on Q(lLow), Q(lHigh), Q(lMax); strict drops them", () => {
    expect([1, 2, 2.5, 3, 3.5, 4, 5].map((L) => judgeLength(L, levels, Q))).toEqual(["short", "short", "middle-length", "long", "long", "long", "too-long"]);
    expect([1, 2, 2.5, 3, 3.5, 4, 5].map((L) => judgeLength(L, levels, Q, false))).toEqual(["short", "middle-length", "middle-length", "middle-length", "long", "too-long", "too-long"]);
  });

  it("the stream sampler honours boundInclusive: false", () => {
    const s = createStreamSampler({ batchSize: 100, window: 4, boundInclusive: false, warmup: "accept" });
    [1, 2, 3, 4].forEach((L, i) => s.offer(mixed(`w${i}`, L)));
    expect(s.offer(mixed("edge", 2)).outcome).toBe("middle-length"); // window [2, 3, 4, 2]: Q(0.3) = 2, strict
    expect(createStreamSampler({ batchSize: 1, window: 4 }).config.boundInclusive).toBe(true);
  });
});

describe("lspo - batch mode quantile scope", () => {
  it("window: round 2 is judged against rounds 1 and 2's survivors; reset when a batch is emitted; snapshotted", () => {
    const s = createBatchSampler({ batchSize: 10, quantileScope: "window" });
    s.addGenerationBatch([mixed("a", 10), mixed("b", 20)]);
    const r2 = s.addGenerationBatch([mixed("c", 30), mixed("d", 40)]);
    expect(r2.thresholds).toMatchObject({ windowFill: 4, low: 20, high: 30, max: 40 });
    const restored = restoreBatchSampler(JSON.parse(JSON.stringify(s.snapshot())));
    expect(restored.snapshot().accumulated).toEqual([10, 20, 30, 40]);
    // Rounds 1 and 2 keep 2 + 3 groups here: the batch of 3 is emitted in round 2 and the pool starts over.
    const small = createBatchSampler({ batchSize: 3, quantileScope: "window" });
    small.addGenerationBatch([mixed("a", 10), mixed("b", 20)]);
    expect(small.addGenerationBatch([mixed("c", 30), mixed("d", 40)]).batch).not.toBeNull();
    expect(small.snapshot().accumulated).toEqual([]);
    const batchScope = createBatchSampler({ batchSize: 3 });
    batchScope.addGenerationBatch([mixed("a", 10), mixed("b", 20)]);
    expect(batchScope.addGenerationBatch([mixed("c", 30), mixed("d", 40)]).thresholds).toMatchObject({ windowFill: 2, low: 30 });
    expect(() => createBatchSampler({ batchSize: 3, quantileScope: "all" })).toThrow(/quantileScope/);
  });
});
