import { describe, expect, it } from "vitest";
import { AlgorithmState, InvalidSpecError, presetSpec, SwapProtocolError } from "../src/index.js";

describe("hot swap - update boundaries", () => {
  it("a requested swap is pending until the next beginUpdate, then active for that whole update", () => {
    const s = new AlgorithmState({ name: "grpo" });
    expect(s.beginUpdate(0).name).toBe("grpo");
    s.requestSwap({ name: "gspo" });
    // Mid-update: still GRPO, swap queued.
    expect(s.active.name).toBe("grpo");
    expect(s.active.params.clip_low).toBe(0.2);
    expect(s.pending?.name).toBe("gspo");
    const next = s.beginUpdate(1);
    expect(next.name).toBe("gspo");
    expect(s.pending).toBeNull();
  });

  it("swaps the whole preset: GSPO's 3e-4/4e-4 replace GRPO's 0.2/0.2, and GRPO's KL goes away", () => {
    const s = new AlgorithmState({ name: "grpo", params: { clip_high: 0.3 } });
    s.requestSwap({ name: "gspo" });
    const p = s.beginUpdate(5).params;
    expect([p.clip_low, p.clip_high, p.kl_coef, p.policy_loss]).toEqual([3e-4, 4e-4, 0, "gspo"]);
    expect(p).toEqual(presetSpec("gspo").params); // nothing merged from the GRPO spec
  });

  it("records {step, from, to, parameters} for each swap that takes effect", () => {
    const s = new AlgorithmState({ name: "grpo" });
    s.beginUpdate(0);
    s.requestSwap({ name: "dapo", params: { overlong_filter: true } });
    s.beginUpdate(1);
    s.beginUpdate(2); // no swap, no event
    s.requestSwap({ name: "gspo" });
    s.beginUpdate(7);
    expect(s.events).toEqual([
      { step: 1, from: "grpo", to: "dapo", parameters: presetSpec("dapo", { overlong_filter: true }).params },
      { step: 7, from: "dapo", to: "gspo", parameters: presetSpec("gspo").params },
    ]);
  });

  it("the last request before a boundary wins; cancelSwap drops it", () => {
    const s = new AlgorithmState({ name: "grpo" });
    s.requestSwap({ name: "gspo" });
    s.requestSwap({ name: "dr_grpo" });
    expect(s.beginUpdate(0).name).toBe("dr_grpo");
    s.requestSwap({ name: "gspo" });
    expect(s.cancelSwap()).toBe(true);
    expect(s.cancelSwap()).toBe(false);
    expect(s.beginUpdate(1).name).toBe("dr_grpo");
    expect(s.events).toHaveLength(1);
  });

  it("an invalid spec is rejected at request time, naming the field, and leaves the pending swap alone", () => {
    const s = new AlgorithmState({ name: "grpo" });
    s.requestSwap({ name: "gspo" });
    expect(() => s.requestSwap({ name: "dapo", params: { clip_high: "wide" } })).toThrow(InvalidSpecError);
    expect(() => s.requestSwap({ name: "dapo", params: { clip_high: "wide" } })).toThrow(/params\.clip_high/);
    expect(s.pending?.name).toBe("gspo");
    expect(() => new AlgorithmState({ name: "ppo" })).toThrow(/name: unknown algorithm 'ppo'/);
  });

  it("update steps must strictly increase", () => {
    const s = new AlgorithmState({ name: "grpo" });
    s.beginUpdate(3);
    expect(() => s.beginUpdate(3)).toThrow(SwapProtocolError);
    expect(() => s.beginUpdate(2)).toThrow("does not follow the previous update step 3");
    expect(() => s.beginUpdate(-1)).toThrow(SwapProtocolError);
  });

  it("returned specs are copies: mutating one does not change the state", () => {
    const s = new AlgorithmState({ name: "grpo" });
    const a = s.beginUpdate(0);
    a.params.clip_low = 0.9;
    expect(s.active.params.clip_low).toBe(0.2);
  });
});

describe("hot swap - snapshot and restore", () => {
  it("round-trips through JSON with the pending swap, last step and events", () => {
    const s = new AlgorithmState({ name: "grpo" });
    s.beginUpdate(0);
    s.requestSwap({ name: "dapo" });
    s.beginUpdate(1);
    s.requestSwap({ name: "gspo", params: { clip_high: 5e-4 } });
    const snap = JSON.parse(JSON.stringify(s.snapshot()));
    const r = AlgorithmState.restore(snap);
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(() => r.beginUpdate(1)).toThrow(SwapProtocolError); // the step counter survived
    expect(r.beginUpdate(2).params.clip_high).toBe(5e-4);
    expect(r.events.map((e) => [e.step, e.from, e.to])).toEqual([[1, "grpo", "dapo"], [2, "dapo", "gspo"]]);
  });

  it("a corrupted snapshot is rejected naming the field", () => {
    const snap = new AlgorithmState({ name: "grpo" }).snapshot();
    snap.active.params.clip_low = -3;
    expect(() => AlgorithmState.restore(snap)).toThrow(/params\.clip_low/);
    const noEvents = { ...new AlgorithmState({ name: "grpo" }).snapshot(), events: null as never };
    expect(() => AlgorithmState.restore(noEvents)).toThrow("snapshot.events must be an array");
    const badStep = { ...new AlgorithmState({ name: "grpo" }).snapshot(), lastStep: 1.5 };
    expect(() => AlgorithmState.restore(badStep)).toThrow("lastStep must be an integer >= 0 or null");
  });
});
