import { describe, expect, it } from "vitest";
import { InvalidBatchError, formatPath, presetSpec, validateBatch } from "../src/index.js";

const grpo = presetSpec("grpo").params; // KL on: logp_ref required
const dapo = presetSpec("dapo").params; // KL off
const ok = () => ({
  groups: [
    { rewards: [1, 0], responses: [{ logp: [-1, -2], logp_old: [-1, -2] }, { logp: [-1], logp_old: [-1] }] },
    { rewards: [0, 1], responses: [{ logp: [-1], logp_old: [-1] }, { logp: [-3], logp_old: [-3] }] },
  ],
});

function batchError(input: unknown, params = dapo): InvalidBatchError {
  try {
    validateBatch(input, params);
  } catch (e) {
    if (e instanceof InvalidBatchError) return e;
    throw e;
  }
  throw new Error("expected an InvalidBatchError");
}

describe("batch - validation names the path", () => {
  it("formats paths like the input", () => {
    expect(formatPath(["groups", 1, "responses", 0, "logp_old", 3])).toBe("groups[1].responses[0].logp_old[3]");
  });

  it("accepts a well-formed batch", () => {
    expect(validateBatch(ok(), dapo).groups).toHaveLength(2);
  });

  it("missing logp_old", () => {
    const b = ok();
    delete (b.groups[1].responses[0] as { logp_old?: number[] }).logp_old;
    expect(batchError(b).path).toBe("groups[1].responses[0].logp_old");
  });

  it("length mismatch between logp and logp_old", () => {
    const b = ok();
    b.groups[0].responses[1].logp_old = [-1, -1];
    const e = batchError(b);
    expect(e.message).toBe("invalid batch: groups[0].responses[1].logp_old: has 2 entries, logp has 1");
  });

  it("rewards and responses counts differ", () => {
    const b = ok();
    b.groups[1].rewards = [1];
    expect(batchError(b).message).toBe("invalid batch: groups[1].rewards: has 1 rewards for 2 responses");
  });

  it("logp_ref required when KL is on, with the reason", () => {
    const e = batchError(ok(), grpo);
    expect(e.path).toBe("groups[0].responses[0].logp_ref");
    expect(e.message).toContain("missing (needed because kl_coef = 0.04 > 0)");
  });

  it("non-finite or non-numeric values, positive log-probs, unknown fields, empty lists", () => {
    const b1 = ok();
    (b1.groups[0].responses[0].logp as unknown[])[1] = "NaN";
    expect(batchError(b1).path).toBe("groups[0].responses[0].logp[1]");
    const b2 = ok();
    b2.groups[0].responses[0].logp[0] = Number.NaN;
    expect(batchError(b2).path).toBe("groups[0].responses[0].logp[0]");
    const b3 = ok();
    b3.groups[1].responses[1].logp_old[0] = 0.5;
    expect(batchError(b3).message).toContain("groups[1].responses[1].logp_old[0]: a log-probability must be <= 0");
    const b4 = ok();
    (b4.groups[0].responses[0] as Record<string, unknown>).logpOld = [-1, -2];
    expect(batchError(b4).message).toBe("invalid batch: groups[0].responses[0].logpOld: unknown field");
    expect(batchError({ groups: [] }).path).toBe("groups");
    expect(batchError({}).path).toBe("groups");
    expect(batchError([]).path).toBe("batch");
    const b5 = ok();
    b5.groups[0].rewards[1] = Number.POSITIVE_INFINITY;
    expect(batchError(b5).path).toBe("groups[0].rewards[1]");
  });
});
