// retryTransient: a read retried while the server cannot answer (a NATS restart, an election), never for the
// message's own fault (a DecodeError), this identity's (a permissions violation) or on a closed connection, all thrown at once, and
// given up after its limit with the server's error, or sooner where the caller's retryWhile says so (a stopping service).
// The learner's batch reads use it, so a NATS restart no longer dead-letters a good batch.
import { describe, expect, it, vi } from "vitest";
import { ClosedConnectionError } from "@nats-io/nats-core";
import { DecodeError, retryOnTimeout, retryTransient } from "@lspo/bus";

describe("bus - retryTransient", () => {
  it("retries a transport failure until the read succeeds", async () => {
    let calls = 0;
    const out = await retryTransient(async () => {
      if (++calls < 4) throw new Error("TIMEOUT");
      return "groups";
    }, 5_000);
    expect([out, calls]).toEqual(["groups", 4]);
  });

  it("throws the message's own fault at once", async () => {
    let calls = 0;
    const fault = new DecodeError("invalid", "TrainingBatch.groupRefs[0]: LSPO_VERIFIED holds no message at that sequence");
    await expect(retryTransient(async () => {
      calls++;
      throw fault;
    }, 5_000)).rejects.toBe(fault);
    expect(calls).toBe(1);
  });

  it("throws a permissions violation at once: no wait mends this identity's permissions", async () => {
    let calls = 0;
    const refused = new Error(`Permissions Violation for Publish to "$O.lspo-checkpoints.C.x"`);
    await expect(retryTransient(async () => {
      calls++;
      throw refused;
    }, 5_000)).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it("throws at once on a closed connection: it never carries another call, and a stop must not wait on it", async () => {
    let calls = 0;
    const closed = new ClosedConnectionError();
    await expect(retryTransient(async () => {
      calls++;
      throw closed;
    }, 5_000)).rejects.toBe(closed);
    expect(calls).toBe(1);
  });

  it("retries only while retryWhile holds: checked after each failure and again after the wait", async () => {
    const failing = (counter: { calls: number }) => async () => {
      counter.calls++;
      throw new Error("TIMEOUT");
    };
    const stopped = { calls: 0 };
    await expect(retryTransient(failing(stopped), 5_000, () => false)).rejects.toThrow("TIMEOUT");
    expect(stopped.calls).toBe(1); // a stopping service: the attempt under way only
    const duringWait = { calls: 0 };
    let asked = 0;
    await expect(retryTransient(failing(duringWait), 5_000, () => ++asked === 1)).rejects.toThrow("TIMEOUT");
    expect([duringWait.calls, asked]).toEqual([1, 2]); // the stop began during the wait: no second attempt
    let reads = 0;
    const out = await retryTransient(async () => {
      if (++reads < 3) throw new Error("TIMEOUT");
      return "pointer";
    }, 5_000, () => true);
    expect([out, reads]).toEqual(["pointer", 3]); // while it holds, retried as before
  });

  it("gives up after its limit with the server's error", async () => {
    let calls = 0;
    const t0 = Date.now();
    await expect(retryTransient(async () => {
      calls++;
      throw new Error("no responders");
    }, 200)).rejects.toThrow("no responders");
    expect(calls).toBeGreaterThan(2);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("waits between tries as its policy says: 50 ms doubling for a read, 100 ms doubling for a setup call (retryOnTimeout), at most 2 s", async () => {
    vi.useFakeTimers();
    try {
      /** The times (ms after the start) at which `retry` tried a call that fails `fails` times with a timeout. */
      const triedAt = async (retry: (fn: () => Promise<string>) => Promise<string>, fails: number) => {
        const start = Date.now();
        const at: number[] = [];
        const out = retry(async () => {
          at.push(Date.now() - start);
          if (at.length <= fails) throw new Error("timeout");
          return "done";
        });
        await vi.advanceTimersByTimeAsync(20_000);
        expect(await out).toBe("done");
        return at;
      };
      expect(await triedAt((fn) => retryTransient(fn, 60_000), 7)).toEqual([0, 50, 150, 350, 750, 1550, 3150, 5150]);
      expect(await triedAt((fn) => retryOnTimeout(fn, "a setup call"), 6)).toEqual([0, 100, 300, 700, 1500, 3100, 5100]);
    } finally {
      vi.useRealTimers();
    }
  });
});
