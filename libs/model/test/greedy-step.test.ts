// Greedy decoding picks its tokens in the graph (OnnxDecoder.greedyStep, llama/graphs.ts greedyOutputs): the same
// tokens and log-probs as the sampler's greedy pass over the logits, ties to the first index, and a bad row still
// fails naming its entry.
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import type { DecoderStepInput } from "../src/generate/decoder.js";
import { generate } from "../src/generate/generate.js";
import { initModel } from "../src/init.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { argmax, tokenLogprob } from "../src/sampling/sample.js";
import type { Tensor, Weights } from "../src/tensor.js";
import { TINY_QWEN2 } from "./support/tiny-qwen2.js";

const untied: LlamaConfig = { ...TINY_QWEN2, modelType: "llama", attentionBias: false, tieWordEmbeddings: false };
const prompts = [[5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16], [17]];

/** The decoder as generate() sees it without greedyStep: every token picked from the logits here. */
const logitsOnly = (dec: OnnxDecoder) => ({ config: dec.config, openCache: dec.openCache.bind(dec), step: dec.step.bind(dec) });

/** The decoder with its greedy steps counted, and each one's input kept. */
function counted(dec: OnnxDecoder) {
  const inputs: DecoderStepInput[] = [];
  return {
    inputs,
    decoder: { ...logitsOnly(dec), greedyStep: (input: DecoderStepInput) => (inputs.push(input), dec.greedyStep(input)) },
  };
}

/** The head's weight with `edit` applied to a copy. */
function withHead(w: Weights, edit: (head: Float32Array, D: number) => void): Weights {
  const out = new Map(w);
  const head = w.get("lm_head.weight")!;
  const data = Float32Array.from(head.data as Float32Array);
  edit(data, head.shape[1]);
  out.set("lm_head.weight", { ...head, data });
  return out;
}

describe("greedy decode steps - the token picked in the graph", () => {
  for (const [name, config] of Object.entries({ "qwen2 (tied head)": TINY_QWEN2, "llama (untied head)": untied })) {
    it(`${name}: generation takes every decode step's tokens from greedyStep, the same tokens as the logits path, log-probs within 1e-5`, async () => {
      const dec = await OnnxDecoder.create(config, initModel(config, 3, { initializerRange: 0.3 }));
      const { decoder, inputs } = counted(dec);
      const picked = await generate(decoder, prompts, { maxNewTokens: 40, stopTokenIds: [] });
      const scanned = await generate(logitsOnly(dec), prompts, { maxNewTokens: 40, stopTokenIds: [] });
      expect(inputs.length).toBe(39); // every step after the prefill
      expect(picked.tokens).toEqual(scanned.tokens);
      picked.logprobs.forEach((row, i) => row.forEach((lp, t) => expect(Math.abs(lp - scanned.logprobs[i][t])).toBeLessThan(1e-5)));
      // One step both ways on the same input: the picks are the logits' first argmax and its log softmax.
      const input = inputs[20];
      const [greedy, full] = [await dec.greedyStep(input), await dec.step(input)];
      const V = config.vocabSize;
      for (let b = 0; b < input.inputIds.shape[0]; b++) {
        const row = full.logits.data.subarray(b * V, (b + 1) * V);
        expect(greedy!.tokens[b]).toBe(argmax(row));
        expect(Math.abs(greedy!.logprobs[b] - tokenLogprob(row, argmax(row)))).toBeLessThan(1e-5);
      }
      greedy!.newKeys.forEach((k, l) => expect(k.data).toEqual(full.newKeys[l].data));
      await dec.release();
    });
  }

  it("a tie goes to the first index, as torch.argmax and the sampler's greedy pass", async () => {
    // Tokens 9 and 40 get the same head row, far larger than the others: every row's logits tie at their max.
    const weights = withHead(initModel(untied, 3, { initializerRange: 0.3 }), (head, D) => {
      for (let d = 0; d < D; d++) head[40 * D + d] = head[9 * D + d] = 25 * Math.sign(d % 2 - 0.5);
    });
    const dec = await OnnxDecoder.create(untied, weights);
    const { decoder, inputs } = counted(dec);
    const picked = await generate(decoder, prompts, { maxNewTokens: 6, stopTokenIds: [] });
    const scanned = await generate(logitsOnly(dec), prompts, { maxNewTokens: 6, stopTokenIds: [] });
    expect(inputs.length).toBe(5);
    expect(picked.tokens).toEqual(scanned.tokens);
    expect(picked.tokens.flat().slice(1)).toContain(9);
    expect(picked.tokens.flat()).not.toContain(40);
    await dec.release();
  });

  it("a non-finite logit still fails naming its entry: greedyStep says null, and the step runs again with logits", async () => {
    const healthy = initModel(untied, 3, { initializerRange: 0.3 });
    const dec = await OnnxDecoder.create(untied, healthy);
    // The prefill runs on healthy weights; from the first decode step on, token 11's head row is NaN.
    const { decoder, inputs } = counted(dec);
    const poisoned = { ...decoder, greedyStep: async (input: DecoderStepInput) => {
      if (inputs.length === 0) await dec.setWeights(withHead(healthy, (head, D) => head.fill(NaN, 11 * D, 12 * D)));
      const r = await decoder.greedyStep(input);
      expect(r).toBeNull();
      return r;
    } };
    await expect(generate(poisoned, prompts, { maxNewTokens: 4, stopTokenIds: [] })).rejects.toThrow(/logits\[11\] is NaN: the model produced non-finite logits/);
    expect(inputs.length).toBe(1);
    await dec.release();
  });

  it("answers null for a step it does not take: a time-major past (the prefill), a concat decoder", async () => {
    const weights = initModel(untied, 3, { initializerRange: 0.3 });
    const [dec, concat] = [await OnnxDecoder.create(untied, weights), await OnnxDecoder.create(untied, weights, { kvCache: "concat" })];
    const { decoder, inputs } = counted(dec);
    await generate(decoder, prompts, { maxNewTokens: 3, stopTokenIds: [] });
    expect(await concat.greedyStep(inputs[0])).toBeNull();
    const cache = dec.openCache(1, { initial: 4, max: 8 })!;
    const past = cache.past();
    const one: Tensor<"int64"> = { dtype: "int64", shape: [1, 1], data: BigInt64Array.of(5n) };
    expect(await dec.greedyStep({ inputIds: one, positionIds: one, attentionMask: one, pastKeys: past.keys, pastValues: past.values })).toBeNull();
    await Promise.all([dec.release(), concat.release()]);
  });
});
