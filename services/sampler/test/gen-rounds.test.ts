// Batch mode's cap on generation rounds (sampler.maxGenRounds): reaching it records the failure once, with
// the numbers, instead of throwing out of the consume loop (which crashed the sampler, redelivered the
// group and threw again after every restart). The failure survives snapshot -> restore; later groups are
// acked as "failed" and change nothing. The quantile options reach the library.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import type { GroupSummary } from "@lspo/proto";
import { SamplerCore } from "@lspo/sampler";
import { runFailedError } from "../src/failure.js";

function vg(uid: string, rewards: number[], len = 3): GroupSummary {
  return { uid, lengths: rewards.map(() => len), rewards, correct: rewards.map((r) => r > 0), policyVersion: 0n };
}

const roundTrip = (s: unknown) => JSON.parse(JSON.stringify(s, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));

describe("sampler core - maxGenRounds", () => {
  it("two all-wrong rounds with maxGenRounds 2: failed once, with the numbers; persisted; later groups change nothing", () => {
    const settings = resolveConfig({ sampler: { mode: "batch", batchSize: 2, genBatch: 2, maxGenRounds: 2 } }).sampler;
    const core = new SamplerCore(settings, 1);
    expect(core.offer(vg("a", [0, 0]), 0).outcome).toBe("gathering");
    expect(core.offer(vg("b", [0, 0]), 0).outcome).toBe("judged"); // round 1: nothing kept
    expect(core.failure).toBeNull();
    core.offer(vg("c", [0, 0]), 0);
    expect(core.offer(vg("d", [0, 0]), 0).outcome).toBe("failed"); // round 2 hits the cap
    expect(core.failure).toMatchObject({ name: "GenRoundsExceededError", genRounds: 2, pending: 0, batchSize: 2, maxGenRounds: 2 });
    expect(core.failure!.message).toContain("2 generation rounds kept only 0 of the 2 groups a training batch needs (maxGenRounds = 2)");
    const received = core.stats().received;
    expect(core.offer(vg("e", [1, 0]), 0).outcome).toBe("failed");
    expect(core.stats().received).toBe(received);
    const restored = new SamplerCore(settings, 1, roundTrip(core.snapshot()));
    expect(restored.failure).toEqual(core.failure);
    expect(restored.offer(vg("f", [1, 0]), 0).outcome).toBe("failed");
    const status = runFailedError(core.failure!);
    expect(status.code).toBe(9); // FAILED_PRECONDITION: not transient, the controller ends the run on it
    expect(status.message).toMatch(/^sampler: the run cannot go on: GenRoundsExceededError: batch sampler: 2 generation rounds/);
  });

  it("maxGenRounds 0 = no cap; snapshots from before the failure field restore as not failed", () => {
    const settings = resolveConfig({ sampler: { mode: "batch", batchSize: 2, genBatch: 1, maxGenRounds: 0 } }).sampler;
    const core = new SamplerCore(settings, 1);
    for (let i = 0; i < 30; i++) core.offer(vg(`g${i}`, [0, 0]), 0);
    expect(core.failure).toBeNull();
    const old = roundTrip(core.snapshot());
    delete old.failure;
    expect(new SamplerCore(settings, 1, old).failure).toBeNull();
  });

  it("boundInclusive and quantileScope reach the library sampler", () => {
    // One round of 4 mixed groups, lengths 1..4: Q(0.3) = 2nd = 2, Q(0.65) = 3rd = 3, Q(0.95) = 4th = 4.
    // Inclusive keeps 1, 2 (short) and 3, 4 (long band); strict keeps 1 (< 2) only and nothing in (3, 4).
    const judged = (boundInclusive: boolean) => {
      const s = resolveConfig({ sampler: { mode: "batch", batchSize: 8, genBatch: 4, boundInclusive } }).sampler;
      const core = new SamplerCore(s, 1);
      [1, 2, 3, 4].forEach((len) => core.offer(vg(`l${len}`, [1, 0], len), 0));
      return core.stats().outcomes;
    };
    expect(judged(true)).toMatchObject({ short: 2, long: 2 });
    expect(judged(false)).toMatchObject({ short: 1, "middle-length": 2, "too-long": 1 });
    const windowed = resolveConfig({ sampler: { mode: "batch", batchSize: 8, genBatch: 2, quantileScope: "window" } }).sampler;
    const core = new SamplerCore(windowed, 1);
    [1, 2, 3, 4].forEach((len) => core.offer(vg(`w${len}`, [1, 0], len), 0));
    // Round 2 (lengths 3, 4) is judged against all four survivors: Q(0.3) = 2, so 3 is middle-length.
    expect(core.stats().thresholds).toMatchObject({ low: 2, high: 3, max: 4, windowFill: 4 });
  });
});
