// The pure parts of the durable swap (swap-log.ts) and LearnerCore's scheduling: stored logs are checked and
// re-validated, only swaps after the resumed step are re-applied, each lands on its own update, and a live
// request supersedes a re-scheduled one due at or before its boundary. The KV round trip and the SIGKILL
// are in test/e2e/learner-swap-resume.int.test.ts.
import { describe, expect, it } from "vitest";
import { presetSpec } from "@lspo/algos";
import { bytesOf } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import type { VerifiedGroup } from "@lspo/proto";
import { LearnerCore, SwapGate, SwapLogError, readSwapLog, requestDurableSwap, swapsAfter } from "@lspo/learner";

const spec = { seed: 5, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } };

function group(): VerifiedGroup {
  const ids = [[20, 21, 1], [30, 1]];
  return {
    group: {
      uid: `g${Math.random()}`,
      prompt: { uid: "p", runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from([5, 6, 7])), answer: "", groupSize: 2, cursor: 0n },
      responses: ids.map((t) => ({ tokenIds: bytesOf(Int32Array.from(t)), logprobs: bytesOf(new Float32Array(t.length).fill(-3)), truncated: false, text: "" })),
      policyVersion: 0n,
      actor: "t",
    },
    rewards: [1, 0],
    correct: [true, false],
  };
}

/** A dapo learner core on the tiny model, released after `fn`. */
async function withCore(fn: (core: LearnerCore) => Promise<void>): Promise<void> {
  const model = createModelFromSpec(spec);
  const config = resolveConfig({ learner: { algorithm: { name: "dapo" }, lr: 1e-3 } });
  const core = await LearnerCore.create(model.config, model.weights, { learner: config.learner, totalSteps: 10, maxResponseLength: 8, device: "cpu", threads: 1, padId: 0 });
  try {
    await fn(core);
  } finally {
    await core.release();
  }
}

describe("swap log - records", () => {
  it("reads a stored log, re-validating each spec; bad records are named", () => {
    const gspo = presetSpec("gspo");
    expect(readSwapLog({ swaps: [{ effectiveStep: 3, spec: gspo }] }, "kv")).toEqual([{ effectiveStep: 3, spec: gspo }]);
    expect(() => readSwapLog({ swaps: [{ effectiveStep: 0, spec: gspo }] }, "kv")).toThrow(/kv: swaps\[0\]\.effectiveStep must be an integer >= 1, got 0/);
    expect(() => readSwapLog({}, "kv")).toThrow(SwapLogError);
    expect(() => readSwapLog({ swaps: [{ effectiveStep: 2, spec: { name: "ppo" } }] }, "kv")).toThrow(/unknown algorithm 'ppo'/);
  });

  it("only swaps after the resumed step are re-applied", () => {
    const r = (effectiveStep: number) => ({ effectiveStep, spec: presetSpec("grpo") });
    expect(swapsAfter([r(2), r(5), r(3)], 3).map((x) => x.effectiveStep)).toEqual([5]);
  });
});

describe("learner core - durable swap requests", () => {
  it("logs the swap with its effective step; a failed write puts the earlier pending swap back", async () => {
    await withCore(async (core) => {
      const logged: { effectiveStep: number; spec: { name: string } }[] = [];
      expect(await requestDurableSwap(core, { append: async (r) => void logged.push(r) }, { name: "gspo" })).toMatchObject({ effectiveStep: 1, spec: { name: "gspo" } });
      expect(logged.map((r) => [r.effectiveStep, r.spec.name])).toEqual([[1, "gspo"]]);
      const failing = { append: async () => Promise.reject(new Error("KV unavailable")) };
      await expect(requestDurableSwap(core, failing, { name: "grpo" })).rejects.toThrow("KV unavailable");
      expect(core.algorithm.pending?.name).toBe("gspo"); // not grpo: it was not made durable
      core.algorithm.cancelSwap();
      await expect(requestDurableSwap(core, failing, { name: "grpo" })).rejects.toThrow("KV unavailable");
      expect(core.algorithm.pending).toBeNull();
    });
  });
});

describe("learner - swaps and updates take turns (SwapGate)", () => {
  // A log whose writes wait until the test lets each one through, in order.
  function heldLog() {
    const logged: Array<[number, string]> = [];
    const waiting: Array<() => void> = [];
    return {
      logged,
      waiting,
      append: (r: { effectiveStep: number; spec: { name: string } }) =>
        new Promise<void>((done) => waiting.push(() => (logged.push([r.effectiveStep, r.spec.name]), done()))),
      release: async () => {
        while (waiting.length === 0) await new Promise((r) => setImmediate(r));
        waiting.shift()!();
      },
    };
  }
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it("an update waits while a swap is being logged, then trains with it; the request answers with what it logged", async () => {
    await withCore(async (core) => {
      const log = heldLog();
      const gate = new SwapGate(core, log);
      const answer = gate.swap({ name: "gspo" });
      let started = false;
      const update = gate.startUpdate(() => ((started = true), core.update([group()])));
      await settle();
      // The swap is pending but not durable: no update may take it yet.
      expect([started, core.step, core.algorithm.pending?.name]).toEqual([false, 0, "gspo"]);
      await log.release();
      expect(await answer).toMatchObject({ effectiveStep: 1, spec: { name: "gspo" } });
      const rec = await update;
      expect([rec.step, rec.algorithm, rec.swap?.to]).toEqual([1, "gspo", "gspo"]);
      expect(log.logged).toEqual([[1, "gspo"]]);
    });
  });

  it("a swap asked for once an update has started waits for no update and takes effect at the next one; two swaps are logged one after the other", async () => {
    await withCore(async (core) => {
      const log = heldLog();
      const gate = new SwapGate(core, log);
      const first = gate.startUpdate(() => core.update([group()]));
      const a = gate.swap({ name: "gspo" });
      const b = gate.swap({ name: "grpo" });
      await settle();
      expect(log.waiting).toHaveLength(1); // the first swap's write: the second has not begun (one at a time)
      await log.release();
      expect(await a).toMatchObject({ effectiveStep: 2, spec: { name: "gspo" } });
      await log.release();
      expect(await b).toMatchObject({ effectiveStep: 2, spec: { name: "grpo" } });
      // Step 1 had started with dapo before either swap: it keeps it; step 2 takes the last one asked for.
      expect((await first).algorithm).toBe("dapo");
      expect((await gate.startUpdate(() => core.update([group()]))).algorithm).toBe("grpo");
      expect(log.logged).toEqual([[2, "gspo"], [2, "grpo"]]);
    });
  });

  it("a checkpoint's read of the algorithm waits for a swap's write: it saves a logged swap as pending, never one whose write failed", async () => {
    await withCore(async (core) => {
      const log = heldLog();
      let failNext = false;
      const gate = new SwapGate(core, { append: (r) => (failNext ? Promise.reject(new Error("KV unavailable")) : log.append(r)) });
      const logged = gate.swap({ name: "gspo" });
      let read = false;
      const first = gate.between(() => ((read = true), core.algorithm.snapshot()));
      await settle();
      expect(read).toBe(false); // the swap is pending, its write not done
      await log.release();
      await logged;
      expect((await first).pending?.name).toBe("gspo");
      failNext = true;
      const refused = gate.swap({ name: "grpo" });
      const second = gate.between(() => core.algorithm.snapshot());
      await expect(refused).rejects.toThrow("KV unavailable");
      expect((await second).pending?.name).toBe("gspo"); // not grpo: that swap was refused
    });
  });

  it("a swap whose write fails leaves the gate open: the update after it trains with the algorithm before it", async () => {
    await withCore(async (core) => {
      const gate = new SwapGate(core, { append: async () => Promise.reject(new Error("KV unavailable")) });
      await expect(gate.swap({ name: "gspo" })).rejects.toThrow("KV unavailable");
      expect((await gate.startUpdate(() => core.update([group()]))).algorithm).toBe("dapo");
      await expect(gate.startUpdate(() => core.update([]))).rejects.toThrow();
    });
  });
});

describe("learner core - scheduled swaps", () => {
  it("a re-scheduled swap lands on its own update; a live request supersedes one due at its boundary", async () => {
    await withCore(async (core) => {
      core.scheduleSwap(2, presetSpec("gspo", { max_response_length: 8, overlong_buffer: 2 }));
      core.scheduleSwap(4, presetSpec("grpo", { max_response_length: 8, overlong_buffer: 2 }));
      expect(() => core.scheduleSwap(0, presetSpec("grpo"))).toThrow(/step 0 is not after the current update 0/);
      expect((await core.update([group()])).algorithm).toBe("dapo");
      const second = await core.update([group()]);
      expect([second.algorithm, second.swap?.step]).toEqual(["gspo", 2]);
      expect(core.requestSwap({ name: "dr_grpo" })).toBe(3); // live: also drops nothing due later than 3
      expect((await core.update([group()])).algorithm).toBe("dr_grpo");
      expect((await core.update([group()])).algorithm).toBe("grpo"); // the step-4 one still applies
    });
  });
});
