// The learner's update moves the policy the right way: rewarded responses become more likely, unrewarded
// ones less, with real ORT sessions on a tiny model.
import { describe, expect, it } from "vitest";
import { bytesOf } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { ForwardSession, createModelFromSpec, makeTokenBatch } from "@lspo/model";
import type { VerifiedGroup } from "@lspo/proto";
import { LearnerCore } from "@lspo/learner";

const spec = { seed: 5, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } };

function group(prompt: number[], responses: number[][], rewards: number[]): VerifiedGroup {
  return {
    group: {
      uid: `g${Math.random()}`,
      prompt: { uid: "p", runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from(prompt)), answer: "", groupSize: responses.length, cursor: 0n },
      responses: responses.map((ids) => ({ tokenIds: bytesOf(Int32Array.from(ids)), logprobs: bytesOf(new Float32Array(ids.length).fill(-5)), truncated: false, text: "" })),
      policyVersion: 0n,
      actor: "t",
    },
    rewards,
    correct: rewards.map((r) => r > 0),
  };
}

describe("learner core - direction of the update", () => {
  for (const algo of ["dapo", "grpo", "gspo", "dr_grpo"]) {
    it(`${algo}: rewarded response log-prob rises, unrewarded falls`, async () => {
      const model = createModelFromSpec(spec);
      const config = resolveConfig({ learner: { algorithm: { name: algo }, lr: 3e-3 } });
      const core = await LearnerCore.create(model.config, model.weights, {
        learner: config.learner, totalSteps: 10, maxResponseLength: 8, device: "cpu", threads: 1, padId: 0,
      });
      const prompt = [5, 6, 7];
      const good = [20, 21, 22, 1];
      const bad = [30, 31, 1];
      const fwd = await ForwardSession.create(model.config);
      const seqLogp = async () => {
        const b = makeTokenBatch([[...prompt, ...good], [...prompt, ...bad]]);
        const lp = await fwd.logprobs(core.weights, b);
        const T = b.inputIds.shape[1];
        const sum = (row: number, n: number) => { let s = 0; for (let i = 0; i < n; i++) s += lp.data[row * T + prompt.length - 1 + i]; return s; };
        return [sum(0, good.length), sum(1, bad.length)];
      };
      const [g0, b0] = await seqLogp();
      for (let i = 0; i < 5; i++) await core.update([group(prompt, [good, bad, bad, good], [1, 0, 0, 1])]);
      const [g1, b1] = await seqLogp();
      expect(g1).toBeGreaterThan(g0 + 0.05);
      expect(b1).toBeLessThan(b0 - 0.05);
      await core.release();
      await fwd.release();
    });
  }

  it("a swap requested while an update runs lands one step later, and says so", async () => {
    const model = createModelFromSpec(spec);
    const config = resolveConfig({ learner: { algorithm: { name: "dapo" }, lr: 1e-3 } });
    const core = await LearnerCore.create(model.config, model.weights, {
      learner: config.learner, totalSteps: 10, maxResponseLength: 8, device: "cpu", threads: 1, padId: 0,
    });
    const g = () => group([5, 6, 7], [[20, 21, 1], [30, 1]], [1, 0]);
    expect(core.requestSwap({ name: "grpo" })).toBe(1);
    const first = core.update([g()]);
    expect(core.requestSwap({ name: "gspo" })).toBe(2); // step 1 already began with grpo
    expect((await first).algorithm).toBe("grpo");
    expect((await core.update([g()])).algorithm).toBe("gspo");
    await core.release();
  });

  it("with a reference loader: trains the given weights in place and reads the KL reference only when an algorithm needs it", async () => {
    const model = createModelFromSpec(spec);
    const base = createModelFromSpec(spec).weights; // the same seed: the base model as its directory holds it
    let loads = 0;
    const config = resolveConfig({ learner: { algorithm: { name: "dapo" }, lr: 3e-3 } });
    const core = await LearnerCore.create(
      model.config, model.weights, { learner: config.learner, totalSteps: 10, maxResponseLength: 8, device: "cpu", threads: 1, padId: 0 },
      undefined, () => (loads++, base),
    );
    expect(core.weights).toBe(model.weights); // adopted, not copied
    const g = () => group([5, 6, 7], [[20, 21, 1], [30, 1]], [1, 0]);
    await core.update([g()]);
    expect(loads).toBe(0); // DAPO has no KL term
    const moved = [...model.weights.values()].some((t, i) => t.data.some((x, j) => x !== [...base.values()][i].data[j]));
    expect(moved).toBe(true);
    core.requestSwap({ name: "grpo" }); // k3 KL, beta 0.04: the reference is needed from here on
    await core.update([g()]);
    await core.update([g()]);
    expect(loads).toBe(1);
    expect(core.referenceWeights()).toBe(base);
    await core.release();
  });
});
