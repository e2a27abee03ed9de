import { describe, expect, it } from "vitest";
import {
  DuplicateNameError,
  Registry,
  UnknownNameError,
  advantageEstimators,
  aggregations,
  klEstimators,
  policyLosses,
} from "../src/index.js";

describe("registry - strict", () => {
  it("registering a name twice throws", () => {
    const r = new Registry<number>("widget");
    r.register("a", 1);
    expect(() => r.register("a", 2)).toThrow(DuplicateNameError);
    expect(() => r.register("a", 2)).toThrow("widget 'a' is already registered");
    expect(r.get("a")).toBe(1);
  });

  it("a failed lookup lists the valid names", () => {
    const r = new Registry<number>("widget");
    r.register("b", 1);
    r.register("a", 2);
    expect(() => r.get("c")).toThrow(UnknownNameError);
    expect(() => r.get("c")).toThrow("unknown widget 'c'; valid: a, b");
  });

  it("built-in registries hold the documented entries and refuse re-registration", () => {
    expect(advantageEstimators.names()).toEqual(["group_mean", "group_std"]);
    expect(policyLosses.names()).toEqual(["gspo", "ppo_clip"]);
    expect(klEstimators.names()).toEqual(["k1", "k3"]);
    expect(aggregations.names()).toEqual(["seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm", "token-mean"]);
    expect(() => policyLosses.register("gspo", policyLosses.get("ppo_clip"))).toThrow(DuplicateNameError);
    expect(() => policyLosses.get("cispo")).toThrow("unknown policy loss 'cispo'; valid: gspo, ppo_clip");
  });
});
