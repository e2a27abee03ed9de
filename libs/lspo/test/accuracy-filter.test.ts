import { describe, expect, it } from "vitest";
import { createBatchSampler, createStreamSampler } from "@lspo/lspo";

describe("accuracy filter switch", () => {
  const allWrong = { uid: "w", lengths: [3, 5], rewards: [0, 0] };
  const allRight = { uid: "r", lengths: [4, 4], rewards: [1, 1] };
  it("drops all-equal groups by default and keeps them when switched off (stream)", () => {
    const on = createStreamSampler({ batchSize: 2, window: 4, lengthFilter: false });
    expect([on.offer(allWrong).outcome, on.offer(allRight).outcome]).toEqual(["all-wrong", "all-correct"]);
    const off = createStreamSampler({ batchSize: 2, window: 4, lengthFilter: false, accuracyFilter: false });
    const a = off.offer(allWrong);
    const b = off.offer(allRight);
    expect([a.outcome, b.outcome]).toEqual(["unfiltered", "unfiltered"]);
    expect(b.batch?.uids).toEqual(["w", "r"]);
  });
  it("keeps all-equal groups in batch mode when switched off", () => {
    const off = createBatchSampler({ batchSize: 2, lengthFilter: false, accuracyFilter: false });
    const round = off.addGenerationBatch([allWrong, allRight]);
    expect(round.batch?.uids).toEqual(["w", "r"]);
  });
});
