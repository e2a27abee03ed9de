import { describe, expect, it } from "vitest";
import { createStreamSampler, type Group } from "@lspo/lspo";
import { allEqual, mixed } from "./helpers.js";

// Worked by hand with W = 5 and levels 0.2 / 0.6 / 0.8: a full window ranks 1 (short), 2 (middle),
// 3-4 (long), 5 (too long). Each group's length enters the window before it is judged.
//   a 50: [50]                    Q = 50 50 50   -> short
//   b 10: [10 50]                 ranks 1 2 2    -> Q = 10 50 50, 10 short
//   c 40: [10 40 50]              ranks 1 2 3    -> Q = 10 40 50, 40 long
//   d 20: [10 20 40 50]           ranks 1 3 4    -> Q = 10 40 50, 20 middle
//   e 30: [10 20 30 40 50]        ranks 1 3 4    -> Q = 10 30 40, 30 long
//   f 60: evict 50, [10 20 30 40 60]            -> Q = 10 30 40, 60 too long
//   g  5: evict 10, [5 20 30 40 60]             -> Q = 5 30 40,  5 short
//   h 30: evict 40 (c), [5 20 30 30 60]         -> Q = 5 30 30, 30 long (both bounds inclusive)
const levels = { lLow: 0.2, lHigh: 0.6, lMax: 0.8 };
const seq: [string, number][] = [["a", 50], ["b", 10], ["c", 40], ["d", 20], ["e", 30], ["f", 60], ["g", 5], ["h", 30]];
const groups = seq.map(([u, L]) => mixed(u, L));

describe("stream sampler - judged on arrival, worked by hand", () => {
  it("judges each group against the window that already holds it", () => {
    const s = createStreamSampler({ batchSize: 2, window: 5, ...levels });
    const out = groups.map((g) => s.offer(g));
    expect(out.map((d) => `${d.uid}:${d.outcome}`)).toEqual(["a:short", "b:short", "c:long", "d:middle-length", "e:long", "f:too-long", "g:short", "h:long"]);
    expect(out.filter((d) => d.batch).map((d) => [d.batch!.index, d.batch!.uids, d.batch!.thresholds])).toEqual([
      [0, ["a", "b"], { low: 10, high: 50, max: 50, windowFill: 2 }],
      [1, ["c", "e"], { low: 10, high: 30, max: 40, windowFill: 5 }],
      [2, ["g", "h"], { low: 5, high: 30, max: 30, windowFill: 5 }],
    ]);
    expect(s.stats()).toMatchObject({
      offered: 8, accepted: 6, rejected: 2, acceptanceRate: 0.75, batchesEmitted: 3, pending: 0,
      window: { slots: 5, lengths: 5, capacity: 5 }, thresholds: { low: 5, high: 30, max: 30, windowFill: 5 },
    });
  });

  it("warm-up 'reject' drops survivors until the window is full, 'accept' keeps them unjudged", () => {
    const reject = createStreamSampler({ batchSize: 100, window: 5, ...levels, warmup: "reject" });
    expect(groups.map((g) => reject.offer(g).outcome)).toEqual([
      "warm-up-rejected", "warm-up-rejected", "warm-up-rejected", "warm-up-rejected", "long", "too-long", "short", "long",
    ]);
    const accept = createStreamSampler({ batchSize: 100, window: 5, ...levels, warmup: "accept", warmupFill: 3 });
    expect(groups.map((g) => accept.offer(g).outcome)).toEqual(["warm-up-kept", "warm-up-kept", "long", "middle-length", "long", "too-long", "short", "long"]);
  });

  it("survivors window: failed groups take no slot; arrivals window: they take an empty one", () => {
    const stream: Group[] = [mixed("p", 10), allEqual("q", 0), allEqual("r", 1), mixed("s", 30)];
    const survivors = createStreamSampler({ batchSize: 10, window: 2 });
    stream.forEach((g) => survivors.offer(g));
    expect(survivors.stats().window).toEqual({ slots: 2, lengths: 2, capacity: 2 });
    const arrivals = createStreamSampler({ batchSize: 10, window: 2, windowCounts: "arrivals" });
    const out = stream.map((g) => arrivals.offer(g));
    expect(arrivals.stats().window).toEqual({ slots: 2, lengths: 1, capacity: 2 }); // r (empty) and s (30)
    expect(out.map((d) => d.outcome)).toEqual(["short", "all-wrong", "all-correct", "short"]);
    expect(arrivals.snapshot().window).toEqual([null, 30]);
  });

  it("offerGenerationBatch pushes every slot first, then judges all members against the same window", () => {
    const s = createStreamSampler({ batchSize: 100, window: 8 });
    // One unit: 40 10 30 20 -> window 10 20 30 40 (n = 4): Q = 2nd 20, 3rd 30, 4th 40.
    const r = s.offerGenerationBatch([mixed("u1", 40), mixed("u2", 10), mixed("u3", 30), mixed("u4", 20)]);
    expect(r.decisions.map((d) => d.outcome)).toEqual(["long", "short", "long", "short"]);
    // One at a time, u1 meets a window of just itself (Q = 40 40 40) and is "short" instead of "long".
    const t = createStreamSampler({ batchSize: 100, window: 8 });
    expect([mixed("u1", 40), mixed("u2", 10), mixed("u3", 30), mixed("u4", 20)].map((g) => t.offer(g).outcome)).toEqual(["short", "short", "long", "short"]);
  });

  it("overflow: carry starts the next batch with the extras, discard drops them (the paper)", () => {
    const unit = [mixed("k1", 10), mixed("k2", 11), mixed("k3", 12), mixed("k4", 13), mixed("k5", 14)];
    const lf = { lengthFilter: false };
    const carry = createStreamSampler({ batchSize: 2, window: 10, ...lf });
    expect(carry.offerGenerationBatch(unit).batches.map((b) => b.uids)).toEqual([["k1", "k2"], ["k3", "k4"]]);
    expect(carry.stats()).toMatchObject({ pending: 1, discardedOverflow: 0 });
    const discard = createStreamSampler({ batchSize: 2, window: 10, overflow: "discard", ...lf });
    expect(discard.offerGenerationBatch(unit).batches.map((b) => b.uids)).toEqual([["k1", "k2"]]);
    expect(discard.stats()).toMatchObject({ pending: 0, discardedOverflow: 3 });
  });

  it("never judges a uid twice: duplicates are counted and take no length slot", () => {
    const s = createStreamSampler({ batchSize: 2, window: 4 });
    const a = s.offer(mixed("x", 10));
    const again = s.offer(mixed("x", 10));
    expect([a.outcome, again.outcome, again.kept]).toEqual(["short", "duplicate", false]);
    expect(s.stats()).toMatchObject({ offered: 2, duplicates: 1, window: { slots: 1, lengths: 1 } });
  });

  it("names the group and the field of a malformed offer", () => {
    const s = createStreamSampler({ batchSize: 2, window: 4 });
    expect(() => s.offer({ uid: "bad", lengths: [1, 2], rewards: [1] })).toThrow(`group "bad": field 'rewards' has 1 entries but 'lengths' has 2`);
    expect(() => s.offer({ uid: "", lengths: [1], rewards: [1] })).toThrow(`group "": field 'uid' must be a non-empty string`);
    expect(() => s.offer({ uid: "n", lengths: [1.5], rewards: [1] })).toThrow("field 'lengths[0]' must be a non-negative integer token count, got 1.5");
    expect(() => s.offer({ uid: "n", lengths: [1], rewards: [NaN] })).toThrow("field 'rewards[0]' must be a finite number, got NaN");
    expect(() => s.offer({ uid: "n", lengths: [1], rewards: [1], correct: ["yes"] } as never)).toThrow(`field 'correct[0]' must be true or false, got "yes"`);
  });

  it("rejects bad options naming them", () => {
    expect(() => createStreamSampler({ batchSize: 2 })).toThrow("option 'window' is required");
    expect(() => createStreamSampler({ batchSize: 2, window: 4, warmupFill: 5 })).toThrow("option 'warmupFill' (5) must be <= window (4)");
    expect(() => createStreamSampler({ batchSize: 2, window: 4, warmup: "wait" })).toThrow("option 'warmup' must be one of 'judge', 'accept', 'reject', got \"wait\"");
    expect(() => createStreamSampler({ batchSize: 2, window: 4, orderStatistics: "heap" })).toThrow("option 'orderStatistics' must be one of 'fenwick', 'treap'");
    expect(() => createStreamSampler({ batchSize: 2, window: 4, refill: { zz: 1 } })).toThrow("stream sampler: refill: unknown option 'zz'. Valid options: prior, priorWeight, memory, z, ahead, maxInFlight");
    expect(() => createStreamSampler({ batchSize: 2, window: 2 ** 27 })).toThrow("option 'window' must be an integer in 1..67108864, got 134217728");
    expect(() => createStreamSampler(7)).toThrow("stream sampler: options must be an object, got 7");
    expect(createStreamSampler({ batchSize: 3, window: 4 }).config.refill.maxInFlight).toBe(12);
    expect(createStreamSampler({ batchSize: 3, window: 4 }).config.warmupFill).toBe(4);
  });
});
