// The learner's reads of a batch's groups while the server cannot answer: retried until it answers, never for
// the message's own fault (a DecodeError: dead-lettered at once), and given up after the limit (the learner
// then restarts and reads the batch again, instead of dead-lettering a good batch during a NATS restart).
import { describe, expect, it } from "vitest";
import { DecodeError } from "@lspo/bus";
import { whileUnavailable } from "../src/while-unavailable.js";

describe("learner - reads retried while the server cannot answer", () => {
  it("retries a transport failure until the read succeeds", async () => {
    let calls = 0;
    const out = await whileUnavailable(async () => {
      if (++calls < 4) throw new Error("TIMEOUT");
      return "groups";
    }, 5_000, 1);
    expect([out, calls]).toEqual(["groups", 4]);
  });

  it("throws the message's own fault at once", async () => {
    let calls = 0;
    const fault = new DecodeError("invalid", "TrainingBatch.groupRefs[0]: LSPO_VERIFIED holds no message at that sequence");
    await expect(whileUnavailable(async () => {
      calls++;
      throw fault;
    }, 5_000, 1)).rejects.toBe(fault);
    expect(calls).toBe(1);
  });

  it("gives up after its limit with the server's error", async () => {
    let calls = 0;
    const t0 = Date.now();
    await expect(whileUnavailable(async () => {
      calls++;
      throw new Error("no responders");
    }, 200, 10)).rejects.toThrow("no responders");
    expect(calls).toBeGreaterThan(2);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
