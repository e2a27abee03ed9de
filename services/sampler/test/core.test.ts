// The sampler service's core without NATS: staleness, kept groups held until their batch, closing a run, and
// snapshot -> restore continuing identically. offer()'s second argument is the message's stream sequence.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import type { GroupSummary } from "@lspo/proto";
import { SamplerCore } from "@lspo/sampler";

const settings = resolveConfig({ sampler: { batchSize: 2, window: 4, lengthFilter: false } }).sampler;

function vg(uid: string, version: number, rewards: number[], len = 3): GroupSummary {
  return { uid, lengths: rewards.map(() => len), rewards, correct: rewards.map((r) => r > 0), policyVersion: BigInt(version) };
}

describe("sampler core", () => {
  it("drops stale groups, holds kept groups until a batch of exactly B is emitted", () => {
    const core = new SamplerCore(settings, 1);
    expect(core.offer(vg("a", 2, [1, 0]), 1).batches).toEqual([]);
    // Stale: sampled by version 0 when version 2 was seen already (more than maxOffPolicySteps = 1 behind).
    expect(core.offer(vg("old", 0, [1, 0]), 2).outcome).toBe("stale");
    expect(core.offer(vg("w", 2, [0, 0]), 3).outcome).toBe("all-wrong");
    const out = core.offer(vg("b", 1, [0, 1]), 4);
    expect(out.batches).toHaveLength(1);
    expect(out.batches[0].groups.map((g) => g.uid)).toEqual(["a", "b"]);
    expect(core.stats()).toMatchObject({ stale: 1, received: 4, pending: 0 });
    expect(core.offer(vg("a", 2, [1, 0]), 5).outcome).toBe("duplicate");
    expect(core.stats().received).toBe(4);
    expect(core.lastJudgedSeq).toBe(5);
  });

  it("judges staleness by the newest policy version in its input, so the same input in the same order decides the same", () => {
    const input = [vg("a", 0, [1, 0]), vg("b", 3, [0, 1]), vg("c", 1, [1, 0]), vg("d", 2, [1, 0]), vg("e", 3, [0, 1]), vg("f", 1, [1, 1])];
    const run = () => {
      const core = new SamplerCore(settings, 1);
      return input.map((g, i) => core.offer(g, i + 1).outcome);
    };
    // c (version 1) is 2 behind the newest seen (3): stale; d (2) is 1 behind: kept.
    expect(run()).toEqual(["unfiltered", "unfiltered", "stale", "unfiltered", "unfiltered", "stale"]);
    expect(run()).toEqual(run());
  });

  it("closing a run counts pending groups as unused and starts the next batch afresh", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("a", 0, [1, 0]), 0);
    expect(core.closeRun()).toBe(1);
    expect(core.stats()).toMatchObject({ unused: 1, pending: 0 });
    const restored = new SamplerCore(settings, 1, JSON.parse(JSON.stringify(core.snapshot(), (_k, v) => (typeof v === "bigint" ? Number(v) : v))), core.uidsFrom(0));
    restored.offer(vg("b", 0, [1, 0]), 0);
    const out = restored.offer(vg("c", 0, [0, 1]), 0);
    expect(out.batches[0].groups.map((g) => g.uid)).toEqual(["b", "c"]);
  });

  it("reports by uid the groups it drops away from their own judgement (for the ledger)", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("a", 0, [1, 0]), 0);
    expect(core.takeDropped()).toEqual([]);
    core.closeRun();
    expect(core.takeDropped()).toEqual([{ uid: "a", reason: "unused" }]);
    expect(core.takeDropped()).toEqual([]); // taken once
    // Batch mode: rejected groups of a generation batch, and kept ones beyond B (overflow).
    const batch = new SamplerCore({ ...settings, mode: "batch", genBatch: 4, batchSize: 2 }, 1);
    batch.offer(vg("w", 0, [0, 0]), 0);
    batch.offer(vg("x", 0, [1, 0]), 0);
    batch.offer(vg("y", 0, [0, 1]), 0);
    const out = batch.offer(vg("z", 0, [1, 0]), 0);
    const emitted = out.batches[0].groups.map((g) => g.uid);
    expect(emitted).toHaveLength(2);
    const dropped = batch.takeDropped();
    expect(dropped).toContainEqual({ uid: "w", reason: "all-wrong" });
    const overflow = ["x", "y", "z"].filter((u) => !emitted.includes(u));
    expect(dropped.filter((d) => d.reason === "overflow").map((d) => d.uid)).toEqual(overflow);
  });
});
