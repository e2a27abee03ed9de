// The learner's memory check (issue 16): the estimate from the config alone (libs/model memory.ts) against
// learner.memoryBudgetGb, refused before anything loads, with the numbers and what to change.
import { describe, expect, it } from "vitest";
import { resolveConfig } from "@lspo/config";
import { GIB, LEARNER_BYTES_PER_PARAM, inferenceMemory, learnerMemory, parameterCount, parseConfigJson } from "@lspo/model";
import { checkMemoryBudget } from "../src/main.js";

// Qwen2.5-0.5B's shape (the end-to-end target).
const qwen05 = parseConfigJson({
  architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
  num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936, max_position_embeddings: 32768, rms_norm_eps: 1e-6,
  rope_theta: 1000000, tie_word_embeddings: true, eos_token_id: 151643,
});

describe("learner - memory model and budget", () => {
  it("the estimate is its parts; per-parameter state dominates at 0.5B, activations grow with rows x tokens", () => {
    const P = parameterCount(qwen05);
    expect(P).toBeGreaterThan(490e6);
    expect(P).toBeLessThan(500e6);
    const e = learnerMemory(qwen05, { rows: 4, seq: 256 });
    expect(e.bytes).toBe(Object.values(e.parts).reduce((a, b) => a + b, 0));
    expect(e.parts["parameters, gradients, AdamW (20 B per parameter)"]).toBe(LEARNER_BYTES_PER_PARAM * P);
    const twice = learnerMemory(qwen05, { rows: 8, seq: 256 });
    expect(twice.parts["layer activations"]).toBe(2 * e.parts["layer activations"]);
    expect(twice.parts["LM head"]).toBe(2 * e.parts["LM head"]);
    // Log-probs read at the response positions only: the head's part scales with them, not with the sequence.
    expect(learnerMemory(qwen05, { rows: 4, seq: 256, scored: 64 }).parts["LM head"]).toBe(e.parts["LM head"] / 4);
    // Recompute keeps about each layer's input and one layer's activations (measured: bench learner-memory).
    const re = learnerMemory(qwen05, { rows: 4, seq: 256, recompute: true });
    expect(re.parts["layer inputs and one layer's activations"]).toBeLessThan(e.parts["layer activations"] / 2.5);
    // 20 B per parameter is 9.2 GiB, and a pass over 4 rows of 256 tokens adds about 4 GiB of activations
    // (half of it the LM head over a 152k vocabulary at every position): at 0.5B the learner needs micro-batches
    // of one or two rows (0.5-1 GiB of activations at 160 tokens, the run) to fit 12 GB.
    expect(e.parts["parameters, gradients, AdamW (20 B per parameter)"] / GIB).toBeCloseTo(9.2, 1);
    expect(learnerMemory(qwen05, { rows: 1, seq: 160, scored: 128 }).bytes).toBeLessThan(12e9);
    expect(learnerMemory(qwen05, { rows: 4, seq: 256 }).bytes).toBeGreaterThan(12e9);
    // The KL reference is one more copy of the weights.
    expect(learnerMemory(qwen05, { rows: 1, seq: 160, weightCopies: 1 }).bytes - learnerMemory(qwen05, { rows: 1, seq: 160 }).bytes).toBe(4 * P);
    // An inference process holds float32 weights (4 B per parameter), and a rollout actor taking a new version
    // one shard of it at a time: a 0.5B actor stays within the 4 GB.
    const i = inferenceMemory(qwen05, { rows: 16, seq: 256 });
    expect(i.parts["weights (4 B per parameter)"]).toBe(4 * P);
    const taking = inferenceMemory(qwen05, { rows: 16, seq: 256, incomingShardBytes: 512 * 2 ** 20 });
    expect(taking.bytes - i.bytes).toBe(512 * 2 ** 20);
    expect(taking.bytes).toBeLessThan(4e9);
  });

  it("refuses above learner.memoryBudgetGb with the numbers and what to change; 0 checks nothing", () => {
    const config = resolveConfig({}, ["learner.memoryBudgetGb=12", "sampler.batchSize=4", "rollout.groupSize=4", "rollout.maxNewTokens=128"]);
    // A pass holds one optimizer step's rows: a mini-batch of a quarter of the 4 groups (learner.ppoMiniBatch 0), 4 rows.
    expect(() => checkMemoryBudget(config, qwen05)).toThrow(
      /learner: the estimated peak is \d+\.\d GiB \(baseline 0\.2 GiB, parameters, gradients, AdamW \(20 B per parameter\) 9\.2 GiB, layer activations \d+\.\d GiB, LM head \d+\.\d GiB\) for 4 rows of up to 384 tokens per pass, above learner\.memoryBudgetGb 12 GiB; lower learner\.microBatch .*set learner\.recompute/,
    );
    expect(() => checkMemoryBudget({ ...config, learner: { ...config.learner, memoryBudgetGb: 128 } }, qwen05)).not.toThrow();
    expect(() => checkMemoryBudget({ ...config, learner: { ...config.learner, memoryBudgetGb: 0 } }, qwen05)).not.toThrow();
    // Micro-batches bound the rows per pass, but the step's gradients are summed beside each pass's: 4 B per
    // parameter more, and one row of 384 tokens still does not fit 12 GiB.
    const oneRow = { ...config, learner: { ...config.learner, microBatch: 1 } };
    expect(() => checkMemoryBudget(oneRow, qwen05)).toThrow(/gradients summed over micro-batches \(4 B per parameter\) 1\.8 GiB.*for 1 rows/);
    // Recompute fits the step's 4 rows in one pass: the layers keep about their inputs only.
    expect(() => checkMemoryBudget({ ...config, learner: { ...config.learner, recompute: true } }, qwen05)).not.toThrow();
    // A mini-batch of all 4 groups is 16 rows per pass.
    expect(() => checkMemoryBudget({ ...config, learner: { ...config.learner, ppoMiniBatch: 4, recompute: true } }, qwen05)).toThrow(/for 16 rows/);
  });
});
