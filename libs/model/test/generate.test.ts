// The generation loop, driven here by the float64 reference decoder (test/support/reference-llama.ts),
// so the loop's padding, positions, KV-cache bookkeeping, stopping and seeding are checked apart from
// the ONNX graph. (generate-ort.test.ts drives the real graph.)
import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { GenerateError, generate } from "../src/generate/generate.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { parseSafetensors } from "../src/hf/safetensors.js";
import { initModel } from "../src/init.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";
import { ReferenceLlama } from "./support/reference-llama.js";

const tiny: LlamaConfig = {
  modelType: "llama", vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: false,
  attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const model = new ReferenceLlama(tiny, initModel(tiny, 5, { initializerRange: 0.4 }));
const decoder = model.asDecoder();
const prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14], [20]];
const logSoftmax = (x: Float64Array, T: number, i: number) => {
  const m = Math.max(...x.map((v) => v / T));
  return x[i] / T - m - Math.log(x.reduce((s, v) => s + Math.exp(v / T - m), 0));
};

describe("generate - transformers' greedy reference", () => {
  it("reproduces the left-padded batched greedy output exactly", async () => {
    const config = parseConfigJson(fixtureText("config.json"));
    const weights = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, config);
    const greedy = JSON.parse(fixtureText("reference.json")).greedy;
    const res = await generate(new ReferenceLlama(config, weights).asDecoder(), greedy.prompts, {
      maxNewTokens: greedy.max_new_tokens, stopTokenIds: [], padTokenId: 0,
    });
    const output = greedy.left_padded_input.map((row: number[], i: number) => [...row, ...res.tokens[i]]);
    expect(output).toEqual(greedy.output);
    expect(res.truncated).toEqual([true, true]);
  });
});

describe("generate - the loop", () => {
  const sampling = { temperature: 0.9, topK: 0, topP: 1 };

  it("same seed, same tokens and log-probs; another seed, other tokens", async () => {
    const a = await generate(decoder, prompts, { maxNewTokens: 8, sampling, seed: 1, stopTokenIds: [] });
    const b = await generate(decoder, prompts, { maxNewTokens: 8, sampling, seed: 1, stopTokenIds: [] });
    const c = await generate(decoder, prompts, { maxNewTokens: 8, sampling, seed: 2, stopTokenIds: [] });
    expect(b).toEqual(a);
    expect(c.tokens).not.toEqual(a.tokens);
    expect(a.tokens.every((t) => t.length === 8)).toBe(true);
  });

  it("a prompt gets the same tokens alone as left-padded in a batch (positions and mask follow the padding)", async () => {
    const batch = await generate(decoder, prompts, { maxNewTokens: 6, sampling, seed: 3, stopTokenIds: [] });
    for (let i = 0; i < prompts.length; i++) {
      // sequence i draws from stream i: put it at index i with dummy prompts before it
      const alone = await generate(decoder, [...prompts.slice(0, i).map(() => [2]), prompts[i]], { maxNewTokens: 6, sampling, seed: 3, stopTokenIds: [] });
      expect(alone.tokens[i], `prompt ${i}`).toEqual(batch.tokens[i]);
      alone.logprobs[i].forEach((lp, t) => expect(lp).toBeCloseTo(batch.logprobs[i][t], 5));
    }
  });

  it("log-probs are log softmax(logits / T) of a full recomputation without cache", async () => {
    const res = await generate(decoder, prompts, { maxNewTokens: 5, sampling, seed: 4, stopTokenIds: [] });
    prompts.forEach((p, i) => {
      const seq = [...p, ...res.tokens[i]];
      const logits = model.logits([seq])[0];
      res.tokens[i].forEach((tok, t) => {
        expect(res.logprobs[i][t]).toBeCloseTo(logSoftmax(logits[p.length + t - 1], 0.9, tok), 5);
      });
    });
  });

  it("stops a sequence at a stop token (kept), lets the others run, and flags only the truncated", async () => {
    const free = await generate(decoder, prompts, { maxNewTokens: 10, stopTokenIds: [] });
    // choose as stop token the 3rd greedy token of prompt 1, which must not appear earlier in any sequence
    const stopTok = free.tokens[1][2];
    const res = await generate(decoder, prompts, { maxNewTokens: 10, stopTokenIds: [stopTok] });
    prompts.forEach((_, i) => {
      const at = free.tokens[i].indexOf(stopTok);
      if (at >= 0) {
        expect(res.tokens[i]).toEqual(free.tokens[i].slice(0, at + 1));
        expect(res.truncated[i]).toBe(false);
      } else {
        expect(res.tokens[i]).toEqual(free.tokens[i]);
        expect(res.truncated[i]).toBe(true);
      }
      expect(res.logprobs[i]).toEqual(free.logprobs[i].slice(0, res.tokens[i].length));
    });
    expect(res.tokens[1].length).toBeLessThanOrEqual(3);
  });

  it("compacts finished rows out of the batch without changing any sequence", async () => {
    const many = [[3, 4], [5], [6, 7, 8], [9], [10, 11], [12], [13, 14, 15], [16, 17]];
    const free = await generate(decoder, many, { maxNewTokens: 12, sampling, seed: 9, stopTokenIds: [] });
    // stop tokens: the 2nd token of five sequences, so more than half finish within two steps
    const stops = new Set(free.tokens.slice(0, 5).map((t) => t[1]));
    const batchSizes: number[] = [];
    const counting = { config: tiny, step: (input: Parameters<typeof decoder.step>[0]) => {
      batchSizes.push(input.inputIds.shape[0]);
      return decoder.step(input);
    } };
    const res = await generate(counting, many, { maxNewTokens: 12, sampling, seed: 9, stopTokenIds: [...stops] });
    expect(Math.min(...batchSizes)).toBeLessThan(many.length); // compaction happened
    many.forEach((_, i) => {
      const at = free.tokens[i].findIndex((t) => stops.has(t));
      expect(res.tokens[i], `sequence ${i}`).toEqual(at >= 0 ? free.tokens[i].slice(0, at + 1) : free.tokens[i]);
      expect(res.logprobs[i]).toEqual(free.logprobs[i].slice(0, res.tokens[i].length));
      expect(res.truncated[i]).toBe(at < 0);
    });
  });

  it("refuses bad requests, naming the problem", async () => {
    await expect(generate(decoder, [], { maxNewTokens: 1 })).rejects.toThrow(/no prompts/);
    await expect(generate(decoder, [[1], []], { maxNewTokens: 1 })).rejects.toThrow(/prompt 1 is empty/);
    await expect(generate(decoder, [[1, 40]], { maxNewTokens: 1 })).rejects.toThrow(/prompt 0: token 40 at index 1 is outside the vocabulary \[0, 40\)/);
    await expect(generate(decoder, [[1]], { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens must be a positive integer/);
    await expect(generate(decoder, [[1]], { maxNewTokens: 64 })).rejects.toThrow(/1 tokens \+ maxNewTokens 64 exceeds max_position_embeddings 64/);
    await expect(generate(decoder, [[1]], { maxNewTokens: 2, sampling })).rejects.toThrow(GenerateError);
    await expect(generate(decoder, [[1]], { maxNewTokens: 2, sampling })).rejects.toThrow(/needs a seed/);
    await expect(generate(decoder, [[1]], { maxNewTokens: 2, padTokenId: 99 })).rejects.toThrow(/padTokenId 99 is outside/);
  });

  it("refuses a decoder that returns the wrong shapes", async () => {
    const broken = { config: tiny, step: async (input: Parameters<typeof decoder.step>[0]) => {
      const out = await decoder.step(input);
      return { ...out, newKeys: out.newKeys.map((k) => ({ ...k, shape: [k.shape[1], k.shape[0], k.shape[2], k.shape[3]] })) };
    } };
    await expect(generate(broken, [[1, 2, 3], [4]], { maxNewTokens: 2 })).rejects.toThrow(/decoder returned newKeys\[0\] of shape \[2,3,2,4\] \(48 values\), expected \[3,2,2,4\]/);
  });
});
