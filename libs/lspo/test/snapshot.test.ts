import { describe, expect, it } from "vitest";
import { createBatchSampler, createStreamSampler, InvalidSnapshotError, restoreBatchSampler, restoreStreamSampler } from "@lspo/lspo";
import { allEqual, mixed } from "./helpers.js";

function streamSnapshot(): Record<string, unknown> {
  const s = createStreamSampler({ batchSize: 3, window: 4, windowCounts: "arrivals" });
  [mixed("a", 10), allEqual("b", 0), mixed("c", 30)].forEach((g) => s.offer(g));
  return JSON.parse(JSON.stringify(s.snapshot())) as Record<string, unknown>;
}

const restoreError = (snap: unknown): InvalidSnapshotError => {
  try {
    restoreStreamSampler(snap);
  } catch (e) {
    if (e instanceof InvalidSnapshotError) return e;
    throw e;
  }
  throw new Error("restore accepted a bad snapshot");
};

describe("snapshot - one plain JSON object", () => {
  it("holds the window, pending batch, seen uids, counters and the refill average", () => {
    const snap = streamSnapshot();
    expect(snap).toMatchObject({
      format: "lspo-stream-sampler",
      version: 1,
      window: [10, null, 30],
      pending: [{ uid: "a", lengths: [9, 11], rewards: [1, 0] }, { uid: "c", lengths: [29, 31], rewards: [1, 0] }],
      seen: ["a", "b", "c"],
      nextBatchIndex: 0,
    });
    expect((snap.counts as Record<string, number>)["all-wrong"]).toBe(1);
    expect(Object.keys(snap.refill as object)).toEqual(["kept", "seen"]);
  });

  it("leaves out the window and the seen uids when asked (a caller that persists them apart puts them back)", () => {
    const s = createStreamSampler({ batchSize: 3, window: 4, windowCounts: "arrivals" });
    [mixed("a", 10), allEqual("b", 0), mixed("c", 30)].forEach((g) => s.offer(g));
    const full = s.snapshot();
    const lean = s.snapshot({ omitWindow: true, omitSeen: true });
    expect(lean.window).toEqual([]);
    expect(lean.seen).toEqual([]);
    expect({ ...lean, window: full.window, seen: full.seen }).toEqual(full);
    expect([...s.windowNewest(s.windowSlots)].map((v) => (Number.isNaN(v) ? null : v))).toEqual(full.window);
    expect(s.windowPushes).toBe(3);
    const restored = restoreStreamSampler({ ...lean, window: full.window, seen: full.seen });
    expect(restored.snapshot()).toEqual(full);
    expect(restored.windowPushes).toBe(3); // a restored window's slots count as pushes

    const b = createBatchSampler({ batchSize: 2 });
    b.addGenerationBatch([mixed("x", 5), mixed("y", 7)]);
    expect(b.snapshot({ omitSeen: true }).seen).toEqual([]);
    expect({ ...b.snapshot({ omitSeen: true }), seen: ["x", "y"] }).toEqual(b.snapshot());
  });
});

describe("snapshot - restore names the bad part", () => {
  it("refuses other kinds and versions", () => {
    expect(restoreError({ ...streamSnapshot(), format: "lspo-batch-sampler" }).message).toBe(
      `snapshot: 'format' must be "lspo-stream-sampler" (a snapshot of this kind of sampler), got "lspo-batch-sampler"`,
    );
    expect(restoreError({ ...streamSnapshot(), version: 2 }).path).toBe("version");
    expect(() => restoreBatchSampler(streamSnapshot())).toThrow(InvalidSnapshotError);
    expect(restoreError(null).path).toBe("(root)");
  });

  it("checks the config with the same rules as a new sampler", () => {
    const snap = streamSnapshot();
    const e = restoreError({ ...snap, config: { ...(snap.config as object), lLow: 2 } });
    expect([e.path, e.message]).toEqual(["config.lLow", "snapshot: config: stream sampler: option 'lLow' must be a number in [0, 1], got 2"]);
  });

  it("checks the window, pending batch, seen list and counters", () => {
    const snap = streamSnapshot();
    expect(restoreError({ ...snap, window: [1, 2, 3, 4, 5] }).message).toBe("snapshot: 'window' holds 5 slots but config.window is 4");
    expect(restoreError({ ...snap, window: [1, -2] }).path).toBe("window[1]");
    const survivorsOnly = { ...snap, config: { ...(snap.config as object), windowCounts: "survivors" } };
    expect(restoreError(survivorsOnly).message).toBe("snapshot: 'window[1]' must be a mean length >= 0, got null");
    const pending = snap.pending as object[];
    expect(restoreError({ ...snap, pending: [...pending, mixed("d", 1)] }).message).toBe("snapshot: 'pending' holds 3 groups but must hold fewer than batchSize (3): a full batch is emitted at once");
    expect(restoreError({ ...snap, seen: ["a", "b"] }).path).toBe("pending[1].uid");
    expect(restoreError({ ...snap, seen: ["a", "a", "c"] }).path).toBe("seen[1]");
    expect(restoreError({ ...snap, pending: [{ uid: "a", lengths: [1, 2.5], rewards: [0, 1] }] }).path).toBe("pending[0].lengths[1]");
    expect(restoreError({ ...snap, counts: { ...(snap.counts as object), bogus: 1 } }).path).toBe("counts.bogus");
    expect(restoreError({ ...snap, counts: { ...(snap.counts as object), short: -1 } }).path).toBe("counts.short");
    expect(restoreError({ ...snap, refill: { kept: "x", seen: 1 } }).path).toBe("refill.kept");
  });

  it("batch mode restores its round counter and last thresholds", () => {
    const s = createBatchSampler({ batchSize: 5 });
    s.addGenerationBatch([mixed("a", 10), mixed("b", 20), allEqual("c", 1)]);
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    expect(snap).toMatchObject({ genRounds: 1, thresholds: { low: 10, high: 20, max: 20, windowFill: 2 } });
    expect(restoreBatchSampler(snap).stats()).toEqual(s.stats());
    expect(() => restoreBatchSampler({ ...snap, genRounds: -1 })).toThrow("snapshot: 'genRounds' must be a non-negative integer, got -1");
  });
});
