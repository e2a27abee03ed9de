// How the learner applies the losses (issue 17): metrics token-weighted over micro-batches (the same for
// any micro-batch size), mini-batches as optimizer steps so the clips act, old log-probs at the rollout's
// temperature (rollout vs learner on the same weights), TIS, the shortfall of groups, and a non-finite loss
// named by its groups. Real ORT sessions on a tiny model.
import { afterAll, describe, expect, it } from "vitest";
import { bytesOf } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { OnnxDecoder, createModelFromSpec, generate, type HfModel } from "@lspo/model";
import type { VerifiedGroup } from "@lspo/proto";
import { LearnerConfigError, LearnerCore, NonFiniteUpdateError, type UpdateRecord } from "@lspo/learner";

const spec = { seed: 5, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } };
const model: HfModel = createModelFromSpec(spec);
const cores: LearnerCore[] = [];
afterAll(async () => {
  for (const c of cores) await c.release();
});

interface Sampled {
  ids: number[];
  logprobs: number[];
}

function group(uid: string, prompt: number[], responses: Sampled[], rewards: number[], temperature: number, version = 0): VerifiedGroup {
  return {
    group: {
      uid,
      prompt: {
        uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from(prompt)), answer: "", groupSize: responses.length, cursor: 0n,
        sampling: { temperature, topP: 1, topK: 0, maxNewTokens: 8, seed: 0n, stopTokenIds: [] },
      },
      responses: responses.map((r) => ({ tokenIds: bytesOf(Int32Array.from(r.ids)), logprobs: bytesOf(Float32Array.from(r.logprobs)), truncated: false, text: "" })),
      policyVersion: BigInt(version),
      actor: "t",
    },
    rewards,
    correct: rewards.map((r) => r > 0),
  };
}

/** `n` groups of 4 responses sampled from the model itself at `temperature` (rollout log-probs as recorded). */
async function sampledGroups(n: number, temperature: number): Promise<VerifiedGroup[]> {
  const decoder = await OnnxDecoder.create(model.config, model.weights);
  try {
    const out: VerifiedGroup[] = [];
    for (let g = 0; g < n; g++) {
      const prompt = [5 + g, 6 + g, 7 + g];
      const r = await generate(decoder, [prompt, prompt, prompt, prompt], { maxNewTokens: 6, sampling: { temperature, topK: 0, topP: 1 }, seed: 100 + g, stopTokenIds: [] });
      out.push(group(`g${g}`, prompt, r.tokens.map((ids, i) => ({ ids, logprobs: r.logprobs[i] })), [1, 0, g % 2, 0], temperature));
    }
    return out;
  } finally {
    await decoder.release();
  }
}

async function learner(learnerConfig: Record<string, unknown>, batchSize?: number): Promise<LearnerCore> {
  const config = resolveConfig({ learner: { lr: 1e-2, ...learnerConfig } });
  const core = await LearnerCore.create(model.config, model.weights, {
    learner: config.learner, totalSteps: 10, maxResponseLength: 8, device: "cpu", threads: 1, padId: 0, rolloutTemperature: 1,
    ...(batchSize !== undefined ? { batchSize } : {}),
  });
  cores.push(core);
  return core;
}

describe("learner - metrics over micro-batches", () => {
  it("micro-batch 1, 4 and the whole batch give the same metrics and loss (to 1e-6)", async () => {
    // Rollout log-probs as old log-probs, pulled 0.3 nats below the model's, so ratios differ from 1 and the
    // clips act in this very first step: every metric is non-trivial.
    const groups = (await sampledGroups(2, 1)).map((vg) => ({
      ...vg,
      group: { ...vg.group!, responses: vg.group!.responses.map((r) => ({ ...r, logprobs: bytesOf(Float32Array.from(new Float32Array(r.logprobs.buffer.slice(r.logprobs.byteOffset, r.logprobs.byteOffset + r.logprobs.byteLength)), (v, i) => v - 0.3 * ((i % 3) - 1))) })) },
    }));
    const records: UpdateRecord[] = [];
    for (const microBatch of [1, 4, 0]) {
      const core = await learner({ algorithm: { name: "grpo" }, microBatch, ppoMiniBatch: 2, oldLogprobs: "rollout" });
      records.push(await core.update(groups));
    }
    const [one, four, whole] = records;
    expect(whole.optimizerSteps).toBe(1);
    expect(whole.metrics.clip_frac_low + whole.metrics.clip_frac_high).toBeGreaterThan(0);
    expect(whole.metrics.approx_kl).toBeGreaterThan(0);
    expect(whole.metrics.tokens).toBe(whole.responseTokens);
    expect(whole.metrics.responses).toBe(8);
    for (const r of [one, four]) {
      expect(Object.keys(r.metrics).sort()).toEqual(Object.keys(whole.metrics).sort());
      for (const [k, v] of Object.entries(whole.metrics)) expect(Math.abs(r.metrics[k] - v), k).toBeLessThan(1e-6);
      expect(Math.abs(r.loss - whole.loss)).toBeLessThan(1e-6);
    }
  });
});

describe("learner - mini-batches, epochs and old log-probs", () => {
  it("ppoMiniBatch 1 over 4 groups, 2 epochs: 8 optimizer steps; later mini-batches have ratios != 1 and GSPO's band clips", async () => {
    const groups = await sampledGroups(4, 0.7);
    const core = await learner({ algorithm: { name: "gspo" }, ppoMiniBatch: 1, ppoEpochs: 2 }, 4);
    const r = await core.update(groups);
    expect(r.optimizerSteps).toBe(8);
    expect(core.optimizerSteps).toBe(8);
    expect(core.step).toBe(1); // updates, not optimizer steps
    expect(r.groupsShort).toBe(0);
    expect(r.metrics.approx_kl).toBeGreaterThan(0);
    expect(r.metrics.clip_frac_low + r.metrics.clip_frac_high).toBeGreaterThan(0);
    // Same weights sampled these groups (version 0) at T = 0.7: the learner's recomputed old log-probs agree.
    expect(r.metrics.rollout_logp_diff_max).toBeLessThan(1e-4);
    expect(r.metrics.rollout_logp_diff_mean).toBeLessThanOrEqual(r.metrics.rollout_logp_diff_max);
  });

  it("default ppoMiniBatch is a quarter of the batch: 4 steps; one step recomputing old log-probs keeps every clip inert", async () => {
    const groups = await sampledGroups(4, 0.7);
    const quarter = await learner({ algorithm: { name: "dapo" } });
    expect((await quarter.update(groups)).optimizerSteps).toBe(4);
    const single = await learner({ algorithm: { name: "gspo" }, ppoMiniBatch: 4 });
    const r = await single.update(groups);
    expect(r.optimizerSteps).toBe(1);
    expect(r.metrics.clip_frac_low + r.metrics.clip_frac_high).toBe(0); // the failure mode issue 17 describes
  });

  it("the rollout_logp_diff metrics skip groups from another policy version; a temperature-blind learner would fail them", async () => {
    const groups = await sampledGroups(2, 0.7);
    const core = await learner({ algorithm: { name: "dapo" }, ppoMiniBatch: 2 });
    const stale = groups.map((g) => ({ ...g, group: { ...g.group!, policyVersion: 7n } }));
    const staleRecord = await core.update(stale);
    expect(staleRecord.metrics.rollout_logp_diff_max).toBeUndefined();
    expect(staleRecord.metrics.rollout_logp_diff_tokens).toBe(0);
    // At T = 1 instead of the 0.7 they were sampled at, the same tokens disagree by far more than 1e-3.
    const blind = groups.map((g) => ({ ...g, group: { ...g.group!, prompt: { ...g.group!.prompt!, sampling: { ...g.group!.prompt!.sampling!, temperature: 1 } } } }));
    const fresh = await learner({ algorithm: { name: "dapo" }, ppoMiniBatch: 2 });
    expect((await fresh.update(blind)).metrics.rollout_logp_diff_max).toBeGreaterThan(1e-2);
  });

  it("TIS: weights min(exp(old - rollout), C) reported; tisCap without recomputed old log-probs is refused", async () => {
    const groups = await sampledGroups(2, 1);
    const core = await learner({ algorithm: { name: "dapo" }, tisCap: 2 });
    const r = await core.update(groups);
    expect(r.metrics.tis_mean).toBeGreaterThan(0.99); // same weights: weights about 1
    expect(r.metrics.tis_mean).toBeLessThanOrEqual(2);
    expect(r.metrics.tis_capped_frac).toBe(0);
    await expect(learner({ tisCap: 2, oldLogprobs: "rollout" })).rejects.toThrow(LearnerConfigError);
  });

  it("learner.warmupSteps counts updates: 2 updates of 4 optimizer steps warm up over 8 steps", async () => {
    const groups = await sampledGroups(4, 1);
    const core = await learner({ algorithm: { name: "dapo" }, ppoMiniBatch: 1, warmupSteps: 2 }, 4);
    const first = await core.update(groups);
    expect(first.lr).toBeLessThan(1e-2); // still warming up after the first update's 4 steps
    expect(first.lr).toBeGreaterThan(0);
    await core.update(groups.map((g) => ({ ...g, group: { ...g.group!, uid: `${g.group!.uid}-again` } })));
    expect((await core.update(groups)).lr).toBe(1e-2); // update 3: past the 8 warmup steps
  });

  it("groupsShort records an update with fewer than B groups", async () => {
    const core = await learner({ algorithm: { name: "dapo" } }, 8);
    expect((await core.update(await sampledGroups(3, 1))).groupsShort).toBe(5);
  });

  it("a non-finite loss is an error naming the group it came from", async () => {
    // log_ratio_clamp off and an old log-prob of -1e30: exp(logp + 1e30) = Infinity, A = 0 -> NaN.
    const groups = await sampledGroups(2, 1);
    const bad = groups[1].group!.responses[2];
    const lp = new Float32Array(bad.logprobs.buffer.slice(bad.logprobs.byteOffset, bad.logprobs.byteOffset + bad.logprobs.byteLength));
    lp[0] = -1e30;
    groups[1] = { ...groups[1], rewards: [1, 1, 1, 1], group: { ...groups[1].group!, responses: groups[1].group!.responses.map((r, i) => (i === 2 ? { ...r, logprobs: bytesOf(lp) } : r)) } };
    const core = await learner({ algorithm: { name: "dapo", overrides: { log_ratio_clamp: null } }, oldLogprobs: "rollout", microBatch: 4, ppoMiniBatch: 2 });
    const err = await core.update(groups).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteUpdateError);
    expect((err as Error).message).toContain("in micro-batch 1");
    expect((err as Error).message).toContain("from groups[1] (g1)");
    expect((err as Error).message).not.toContain("groups[0] (g0)");
  });
});
