// The sampler's dedupe is checked before anything else: a redelivered or late group (a rollout actor that
// was paused past its ack wait, a verifier that died after publishing) is a duplicate whatever happened
// meanwhile — newer policies arrived (it would now be stale), UpdateConfig replaced the library sampler, or
// the sampler restarted from its snapshot. Counted once in `received`, never twice.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import type { GroupSummary } from "@lspo/proto";
import { SamplerCore } from "@lspo/sampler";

const settings = resolveConfig({ sampler: { batchSize: 2, window: 4, lengthFilter: false } }).sampler;

function vg(uid: string, version: number, rewards: number[]): GroupSummary {
  return { uid, lengths: rewards.map(() => 3), rewards, correct: rewards.map((r) => r > 0), policyVersion: BigInt(version) };
}

const roundTrip = (core: SamplerCore) =>
  new SamplerCore(settings, 1, JSON.parse(JSON.stringify(core.snapshot(), (_k, v) => (typeof v === "bigint" ? Number(v) : v))), core.uidsFrom(0));

describe("sampler core - dedupe before staleness", () => {
  it("a redelivered stale group is a duplicate, not a second stale arrival", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("n", 3, [0, 0]), 1);
    expect(core.offer(vg("s", 0, [1, 0]), 2).outcome).toBe("stale");
    expect(core.offer(vg("s", 0, [1, 0]), 3).outcome).toBe("duplicate");
    expect(core.stats()).toMatchObject({ stale: 1, received: 2, duplicates: 1 });
  });

  it("a kept group delivered again after newer policies arrived is a duplicate, not stale", () => {
    const core = new SamplerCore(settings, 1);
    expect(core.offer(vg("k", 2, [1, 0]), 1).outcome).toBe("unfiltered");
    expect(core.offer(vg("n", 9, [0, 0]), 2).outcome).toBe("all-wrong");
    expect(core.offer(vg("k", 2, [1, 0]), 3).outcome).toBe("duplicate");
    expect(core.stats()).toMatchObject({ stale: 0, received: 2, duplicates: 1, accepted: 1 });
  });

  it("UpdateConfig does not forget what was seen", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("a", 0, [1, 0]), 0);
    core.updateSettings({ ...settings, batchSize: 3 });
    expect(core.offer(vg("a", 0, [1, 0]), 0).outcome).toBe("duplicate");
    expect(core.stats()).toMatchObject({ received: 1, duplicates: 1 });
  });

  it("the seen set and duplicate count survive snapshot -> restore", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("k", 3, [1, 0]), 1);
    core.offer(vg("s", 0, [1, 0]), 2); // stale
    core.offer(vg("k", 3, [1, 0]), 3);
    const restored = roundTrip(core);
    expect(restored.offer(vg("s", 0, [1, 0]), 3).outcome).toBe("duplicate");
    expect(restored.offer(vg("k", 3, [1, 0]), 3).outcome).toBe("duplicate");
    expect(restored.stats()).toMatchObject({ received: 2, stale: 1, duplicates: 3 });
  });
});

describe("sampler core - UpdateConfig keeps the run's counts", () => {
  it("batch indices continue after a settings change (a reused index would be dropped by JetStream as a duplicate)", () => {
    const core = new SamplerCore(settings, 1);
    core.offer(vg("a", 0, [1, 0]), 0);
    expect(core.offer(vg("b", 0, [1, 0]), 0).batches.map((b) => b.index)).toEqual([0]);
    core.offer(vg("c", 0, [1, 0]), 0); // pending when the settings change: becomes unused
    core.updateSettings({ ...settings, batchSize: 2, window: 8 });
    core.offer(vg("d", 0, [1, 0]), 0);
    expect(core.offer(vg("e", 0, [0, 1]), 0).batches.map((b) => b.index)).toEqual([1]);
    const stats = core.stats();
    expect(stats).toMatchObject({ batchesEmitted: 2, accepted: 5, offered: 5, unused: 1, received: 5 });
    expect(stats.outcomes.unfiltered).toBe(5);
    // ...and across a restart from the snapshot.
    const restored = roundTrip(core);
    restored.offer(vg("f", 0, [1, 0]), 0);
    expect(restored.offer(vg("g", 0, [1, 0]), 0).batches.map((b) => b.index)).toEqual([2]);
    expect(restored.stats()).toMatchObject({ batchesEmitted: 3, accepted: 7 });
  });
});
