import { describe, expect, it } from "vitest";
import { createStreamSampler, promptsNeeded, RefillController, resolveRefillConfig } from "@lspo/lspo";
import { mixed, prng } from "./helpers.js";

const controller = (batchSize: number, opts: Record<string, number> = {}): RefillController =>
  new RefillController(resolveRefillConfig(opts, batchSize, "test"), batchSize);

describe("refill - prompts needed for a confident fill", () => {
  it("is need/p on average (z = 0) and adds a binomial margin with z", () => {
    expect(promptsNeeded(10, 0.5, 0)).toBe(20);
    expect(promptsNeeded(1, 0.1, 0)).toBe(10);
    // n*0.5 - 1.645*sqrt(n/4) >= 10: n = 29 gives 14.5 - 4.4293 = 10.071, n = 28 gives 14 - 4.3523 = 9.648.
    expect(promptsNeeded(10, 0.5, 1.645)).toBe(29);
    expect(promptsNeeded(7, 1, 1.645)).toBe(7); // everything is accepted: no margin needed
    expect(promptsNeeded(0, 0.3, 1.645)).toBe(0);
    expect(promptsNeeded(-4, 0.3, 1.645)).toBe(0);
  });

  it("is the smallest n satisfying the inequality, for many needs and rates", () => {
    for (const p of [0.01, 0.07, 0.3, 0.61, 0.99]) {
      for (const need of [1, 2, 5, 17, 64, 1000]) {
        for (const z of [0, 1, 1.645, 3]) {
          const n = promptsNeeded(need, p, z);
          const ok = (m: number): boolean => m * p - z * Math.sqrt(m * p * (1 - p)) >= need;
          expect(ok(n)).toBe(true);
          expect(n === need || !ok(n - 1)).toBe(true);
        }
      }
    }
  });
});

describe("refill - smoothed acceptance and the request", () => {
  it("starts at the prior and follows a decayed average, worked by hand", () => {
    const c = controller(8, { prior: 0.3, priorWeight: 2, memory: 2 }); // decay 1/2
    expect(c.rate).toBe(0.3);
    c.observe(true); // kept 1, seen 1 -> (1 + 0.6) / (1 + 2)
    expect(c.rate).toBeCloseTo(1.6 / 3, 15);
    c.observe(false); // kept 0.5, seen 1.5 -> (0.5 + 0.6) / (1.5 + 2)
    expect(c.rate).toBeCloseTo(1.1 / 3.5, 15);
    expect(c.state()).toEqual({ kept: 0.5, seen: 1.5 });
  });

  it("requests what the pending batch still needs, minus what is in flight, within the bound", () => {
    const c = controller(8, { prior: 0.5, z: 0, maxInFlight: 32 });
    expect(c.request(3, 4)).toBe(6); // need 5 at p = 0.5 -> 10 prompts, 4 already in flight
    expect(c.request(3, 12)).toBe(0); // enough in flight
    expect(c.request(8, 0)).toBe(0);
    expect(controller(8, { prior: 0.5, z: 0, maxInFlight: 7 }).request(3, 4)).toBe(3); // bound: 7 - 4
    expect(controller(8, { prior: 0.5, z: 0, ahead: 2 }).request(3, 4)).toBe(22); // need 13 -> 26 prompts
    expect(controller(8, { prior: 0.5, z: 0, maxInFlight: 7 }).request(0, 9)).toBe(0); // over the bound already
    expect(() => c.request(-1, 0)).toThrow("refill: pending must be a non-negative integer, got -1");
    expect(() => c.request(0, 1.5)).toThrow("refill: inFlight must be a non-negative integer, got 1.5");
  });

  it("the stream sampler asks with its own pending count and acceptance", () => {
    const s = createStreamSampler({ batchSize: 4, window: 8, lengthFilter: false, refill: { prior: 0.5, priorWeight: 1, memory: 1e9, z: 0 } });
    s.offer(mixed("a", 3)); // kept: decayed sums kept ~1, seen ~1 -> rate (1 + 0.5)/(1 + 1) = 0.75
    expect(s.stats().smoothedAcceptance).toBeCloseTo(0.75, 6);
    expect(s.refillRequest(0)).toBe(4); // need 3 / 0.75 = 4
    expect(s.refillRequest(3)).toBe(1);
  });
});

/**
 * A synthetic pipeline: each tick the controller's request goes out, requested prompts come back `latency`
 * ticks later, each kept with probability p, and the learner takes B groups every `period` ticks
 * (waiting a tick at a time when the batch is not full).
 */
function simulate(opts: { p: number; B: number; latency: number; period: number; ticks: number; seed: number; maxInFlight?: number }) {
  const c = controller(opts.B, { maxInFlight: opts.maxInFlight ?? 4 * opts.B });
  const rand = prng(opts.seed);
  const due: number[] = []; // arrival tick per prompt in flight, ascending
  let pending = 0;
  let nextUpdate = opts.period;
  let updates = 0;
  let stalls = 0;
  let maxSeenInFlight = 0;
  const requests: number[] = [];
  for (let t = 0; t < opts.ticks; t++) {
    while (due.length > 0 && due[0] <= t) {
      due.shift();
      const kept = rand() < opts.p;
      c.observe(kept);
      if (kept) pending++;
    }
    if (t >= nextUpdate) {
      if (pending >= opts.B) {
        pending -= opts.B;
        updates++;
        nextUpdate = t + opts.period;
      } else stalls++;
    }
    const r = c.request(pending, due.length);
    requests.push(r);
    for (let i = 0; i < r; i++) due.push(t + opts.latency);
    maxSeenInFlight = Math.max(maxSeenInFlight, due.length);
  }
  return { updates, stalls, rate: c.rate, maxSeenInFlight, requests };
}

describe("refill - synthetic arrival streams", () => {
  it("keeps the learner fed and learns the acceptance rate", () => {
    for (const p of [0.2, 0.45, 0.8]) {
      const r = simulate({ p, B: 32, latency: 3, period: 10, ticks: 3000, seed: 7 });
      expect(Math.abs(r.rate - p)).toBeLessThan(0.06);
      expect(r.updates).toBeGreaterThanOrEqual(290); // ~3000/10 updates
      expect(r.stalls / (r.updates + r.stalls)).toBeLessThan(0.03);
      expect(r.maxSeenInFlight).toBeLessThanOrEqual(4 * 32);
    }
  });

  it("never exceeds the in-flight bound, even when that starves the learner", () => {
    const r = simulate({ p: 0.2, B: 32, latency: 20, period: 5, ticks: 2000, seed: 3, maxInFlight: 40 });
    expect(r.maxSeenInFlight).toBe(40);
    expect(r.stalls).toBeGreaterThan(r.updates); // 40 prompts per 20 ticks at p = 0.2 cannot feed 32 per 5 ticks
  });

  it("is deterministic given its inputs", () => {
    const opts = { p: 0.37, B: 16, latency: 4, period: 6, ticks: 1500, seed: 11 };
    expect(simulate(opts)).toEqual(simulate(opts));
  });
});
