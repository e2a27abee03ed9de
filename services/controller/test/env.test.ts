// Integer settings from the environment: the fallback when unset or empty, a clear refusal naming the variable.
import { describe, expect, it } from "vitest";
import { envInt } from "../src/env.js";

describe("controller - integer environment settings", () => {
  it("falls back when unset, reads integers, refuses anything else naming the variable", () => {
    expect(envInt("LSPO_DRAIN_S", 10, 1, {})).toBe(10);
    expect(envInt("LSPO_DRAIN_S", 10, 1, { LSPO_DRAIN_S: "" })).toBe(10);
    expect(envInt("LSPO_DRAIN_S", 10, 1, { LSPO_DRAIN_S: "540" })).toBe(540);
    expect(envInt("LSPO_GRPC_PORT", 50056, 0, { LSPO_GRPC_PORT: "0" })).toBe(0);
    expect(() => envInt("LSPO_DRAIN_S", 10, 1, { LSPO_DRAIN_S: "0" })).toThrow("LSPO_DRAIN_S must be an integer >= 1, got '0'");
    expect(() => envInt("LSPO_DRAIN_S", 10, 1, { LSPO_DRAIN_S: "9m" })).toThrow("LSPO_DRAIN_S must be an integer >= 1, got '9m'");
  });
});
