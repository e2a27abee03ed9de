import { describe, expect, it } from "vitest";
import {
  InvalidSpecError,
  PARAM_NAMES,
  parseOverrides,
  parseSetValue,
  presets,
  presetSpec,
  resolveSpec,
} from "../src/index.js";

function specError(fn: () => unknown): InvalidSpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidSpecError) return e;
    throw e;
  }
  throw new Error("expected an InvalidSpecError");
}

describe("presets - published defaults", () => {
  it("the four presets exist", () => {
    expect(presets.names()).toEqual(["dapo", "dr_grpo", "grpo", "gspo"]);
  });
  it("grpo: eps 0.2, beta 0.04 with k3, dual clip 3, seq-mean-token-mean, std advantage", () => {
    expect(presetSpec("grpo").params).toMatchObject({
      advantage: "group_std", policy_loss: "ppo_clip", clip_low: 0.2, clip_high: 0.2, dual_clip: 3,
      kl_coef: 0.04, kl_estimator: "k3", loss_agg: "seq-mean-token-mean", overlong_shaping: false,
    });
  });
  it("dapo: clip-higher 0.2/0.28, token-mean, no KL, overlong shaping 20480/4096", () => {
    expect(presetSpec("dapo").params).toMatchObject({
      clip_low: 0.2, clip_high: 0.28, kl_coef: 0, loss_agg: "token-mean",
      overlong_shaping: true, max_response_length: 20480, overlong_buffer: 4096, overlong_penalty_factor: 1,
    });
  });
  it("gspo: sequence ratio, clip 3e-4/4e-4, no KL, no dual clip", () => {
    expect(presetSpec("gspo").params).toMatchObject({
      policy_loss: "gspo", clip_low: 3e-4, clip_high: 4e-4, kl_coef: 0, dual_clip: null, loss_agg: "seq-mean-token-mean",
    });
  });
  it("dr_grpo: mean-only advantage, seq-mean-token-sum-norm with C = max_response_length, no KL", () => {
    expect(presetSpec("dr_grpo").params).toMatchObject({
      advantage: "group_mean", loss_agg: "seq-mean-token-sum-norm", token_sum_norm: null, kl_coef: 0,
    });
  });
  it("every preset sets every parameter", () => {
    for (const name of presets.names()) expect(Object.keys(presets.get(name).params).sort()).toEqual([...PARAM_NAMES].sort());
  });
});

describe("spec - overrides and validation", () => {
  it("overrides any field and keeps the rest of the preset", () => {
    const s = presetSpec("gspo", { clip_high: 5e-4, kl_coef: 0.01 });
    expect(s.name).toBe("gspo");
    expect(s.params.clip_high).toBe(5e-4);
    expect(s.params.kl_coef).toBe(0.01);
    expect(s.params.clip_low).toBe(3e-4);
  });

  it("a complete stored spec resolves to itself", () => {
    const s = presetSpec("dapo", { overlong_filter: true });
    expect(resolveSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
  });

  it("unknown parameter: names it and lists the valid ones", () => {
    const e = specError(() => presetSpec("grpo", { clip_hi: 0.3 }));
    expect(e.field).toBe("params.clip_hi");
    expect(e.message).toContain("unknown parameter; valid: advantage, policy_loss, clip_low, clip_high");
  });

  it("unknown algorithm: lists the presets", () => {
    const e = specError(() => presetSpec("ppo"));
    expect(e.field).toBe("name");
    expect(e.message).toBe("invalid algorithm spec: name: unknown algorithm 'ppo'; valid: dapo, dr_grpo, grpo, gspo");
  });

  it("bad registry name: names the field and the allowed values", () => {
    const e = specError(() => presetSpec("grpo", { loss_agg: "sum" }));
    expect(e.field).toBe("params.loss_agg");
    expect(e.message).toContain("unknown loss aggregation 'sum'; valid: seq-mean-token-mean, seq-mean-token-sum, seq-mean-token-sum-norm, token-mean");
    expect(specError(() => presetSpec("grpo", { kl_estimator: "k2" })).message).toContain("valid: k1, k3");
    expect(specError(() => presetSpec("grpo", { advantage: "rloo" })).message).toContain("valid: group_mean, group_std");
    expect(specError(() => presetSpec("grpo", { policy_loss: "x" })).message).toContain("valid: gspo, ppo_clip");
  });

  it("wrong types and ranges name the field", () => {
    expect(specError(() => presetSpec("grpo", { clip_low: "0.2" })).field).toBe("params.clip_low");
    expect(specError(() => presetSpec("grpo", { clip_low: 1.5 })).field).toBe("params.clip_low");
    expect(specError(() => presetSpec("grpo", { clip_high: 0 })).field).toBe("params.clip_high");
    expect(specError(() => presetSpec("grpo", { dual_clip: 0.5 })).field).toBe("params.dual_clip");
    expect(specError(() => presetSpec("grpo", { kl_coef: -1 })).field).toBe("params.kl_coef");
    expect(specError(() => presetSpec("grpo", { kl_coef: Number.NaN })).field).toBe("params.kl_coef");
    expect(specError(() => presetSpec("grpo", { max_response_length: 10.5 })).field).toBe("params.max_response_length");
    expect(specError(() => presetSpec("grpo", { overlong_filter: 1 })).field).toBe("params.overlong_filter");
  });

  it("reports every problem, not just the first", () => {
    const e = specError(() => presetSpec("grpo", { clip_low: -1, bogus: 1 }));
    expect(e.issues.map((i) => i.field).sort()).toEqual(["params.bogus", "params.clip_low"]);
  });

  it("cross-field: the overlong buffer must fit under max_response_length when shaping is on", () => {
    const e = specError(() => presetSpec("dapo", { max_response_length: 2048 }));
    expect(e.field).toBe("params.overlong_buffer");
    expect(e.message).toContain("must be <= max_response_length (2048)");
    expect(presetSpec("dapo", { max_response_length: 2048, overlong_buffer: 512 }).params.overlong_buffer).toBe(512);
    expect(presetSpec("grpo", { max_response_length: 2048 }).params.max_response_length).toBe(2048); // shaping off
  });

  it("rejects a non-object spec, unknown top-level keys and non-object params", () => {
    expect(specError(() => resolveSpec("grpo")).field).toBe("spec");
    expect(specError(() => resolveSpec({ name: "grpo", parms: {} })).field).toBe("parms");
    expect(specError(() => resolveSpec({ name: "grpo", params: [1] })).field).toBe("params");
  });
});

describe("spec - --set parsing", () => {
  it("number, boolean, null, else string", () => {
    expect(parseSetValue("0.28")).toBe(0.28);
    expect(parseSetValue("3e-4")).toBe(3e-4);
    expect(parseSetValue("true")).toBe(true);
    expect(parseSetValue("false")).toBe(false);
    expect(parseSetValue("null")).toBeNull();
    expect(parseSetValue("k3")).toBe("k3");
    expect(parseSetValue("")).toBe("");
    expect(parseSetValue("NaN")).toBe("NaN"); // not a finite number: stays a string, so validation rejects it
  });
  it("key=value pairs; malformed or repeated keys are errors", () => {
    expect(parseOverrides(["clip_high=0.3", "overlong_filter=true", "loss_agg=token-mean"])).toEqual({
      clip_high: 0.3, overlong_filter: true, loss_agg: "token-mean",
    });
    expect(specError(() => parseOverrides(["clip_high"])).message).toContain("expected key=value");
    expect(specError(() => parseOverrides(["a=1", "a=2"])).field).toBe("params.a");
    expect(specError(() => presetSpec("grpo", parseOverrides(["kl_coef=NaN"]))).field).toBe("params.kl_coef");
  });
});
