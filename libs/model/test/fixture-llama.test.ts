// The ONNX engine against transformers' own numbers for the tiny LlamaForCausalLM in test/fixtures/hf (see its
// README for the tolerances): logits, the gradient of every parameter, and a left-padded greedy generation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { generate } from "../src/generate/generate.js";
import { ops } from "../src/graph/ops.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { decodeEntry, parseSafetensors } from "../src/hf/safetensors.js";
import { makeTokenBatch, type TokenBatch } from "../src/llama/batch.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { ForwardSession, GradientSession } from "../src/runtime/train-session.js";
import type { Tensor, Weights } from "../src/tensor.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("fixture - tiny Llama against transformers", () => {
  let config: LlamaConfig;
  let weights: Weights;
  let ref: Map<string, Tensor>;
  let batch: TokenBatch;
  let B: number, T: number;

  beforeAll(() => {
    config = parseConfigJson(fixtureText("config.json"));
    weights = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, config);
    ref = new Map([...parseSafetensors(fixtureBytes("reference.safetensors")).tensors].map(([k, e]) => [k, decodeEntry(e)]));
    const ids = ref.get("input_ids") as Tensor<"int64">;
    [B, T] = ids.shape;
    batch = makeTokenBatch(Array.from({ length: B }, (_, b) => Array.from(ids.data.subarray(b * T, (b + 1) * T), Number)));
  });

  it("fixture - logits within 1e-4 (full-sequence graph and the prefill of the inference graph)", async () => {
    const want = ref.get("logits")!.data as Float32Array;
    const fwd = await ForwardSession.create(config);
    const got = await fwd.logits(weights, batch);
    expect(got.shape).toEqual([B, T, config.vocabSize]);
    const err = maxAbs(got.data as Float32Array, want);
    console.log(`fixture: logits max abs err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-4);

    // Inference graph, prefill with an empty cache: last-position logits.
    const dec = await OnnxDecoder.create(config, weights);
    const W = config.numKvHeads * config.headDim;
    const empty = () => Array.from({ length: config.numLayers }, () => ({ dtype: "float32" as const, shape: [0, B, config.numKvHeads, config.headDim], data: new Float32Array(0) }));
    const step = await dec.step({ inputIds: batch.inputIds, positionIds: batch.positionIds, attentionMask: batch.attentionMask, pastKeys: empty(), pastValues: empty() });
    const V = config.vocabSize;
    const lastRef = new Float32Array(B * V);
    for (let b = 0; b < B; b++) lastRef.set(want.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
    expect(step.logits.shape).toEqual([B, V]);
    expect(maxAbs(step.logits.data, lastRef)).toBeLessThanOrEqual(1e-4);
    expect(step.newKeys[0].shape).toEqual([T, B, config.numKvHeads, config.headDim]);
    expect(step.newKeys[0].data.length).toBe(T * B * W);
    const wrongMask = { ...batch.attentionMask, shape: [B, T + 1], data: new BigInt64Array(B * (T + 1)).fill(1n) };
    await expect(dec.step({ inputIds: batch.inputIds, positionIds: batch.positionIds, attentionMask: wrongMask, pastKeys: empty(), pastValues: empty() }))
      .rejects.toThrow(`OnnxDecoder.step: attentionMask is [${B},${T + 1}], expected [${B},${T}] (past 0 + new ${T})`);
    await fwd.release();
    await dec.release();
  });

  it("fixture - every gradient within 1e-4 + 1e-3 * max|ref|, and the loss", async () => {
    const coef = ref.get("loss_coef") as Tensor<"float32">; // [B, T-1]
    const coefPadded = new Float32Array(B * T); // position T-1 predicts nothing: coefficient 0
    for (let b = 0; b < B; b++) coefPadded.set(coef.data.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
    const count = B * (T - 1);
    const session = await GradientSession.create(config, (ctx) => {
      const c = ctx.input("loss_coef", "float32", ["B", "T"]);
      return { loss: ops.neg(ops.div(ops.sumAll(ops.mul(c, ctx.logprobs)), count)) };
    });
    const r = await session.run(weights, { ...batch, extras: { loss_coef: { dtype: "float32", shape: [B, T], data: coefPadded } } });
    expect(Math.abs(r.loss - (ref.get("loss")!.data as Float32Array)[0])).toBeLessThanOrEqual(1e-5);
    const report: string[] = [];
    let worst = 0;
    for (const name of weights.keys()) {
      const want = ref.get(`grad.${name}`)!.data as Float32Array;
      const got = r.grads.get(name)!.data;
      let refMax = 0;
      for (const v of want) refMax = Math.max(refMax, Math.abs(v));
      const err = maxAbs(got, want);
      const tol = 1e-4 + 1e-3 * refMax;
      worst = Math.max(worst, err / tol);
      if (!(err <= tol)) report.push(`${name}: max abs err ${err} > ${tol}`);
    }
    console.log(`fixture: ${weights.size} gradients, worst err/tolerance ${worst.toFixed(4)}`);
    expect(report).toEqual([]);
    await session.release();
  });

  it("fixture - greedy left-padded generation is identical", async () => {
    const g = JSON.parse(fixtureText("reference.json")).greedy as { prompts: number[][]; output: number[][]; max_new_tokens: number; left_padded_input: number[][] };
    const dec = await OnnxDecoder.create(config, weights);
    const res = await generate(dec, g.prompts, { maxNewTokens: g.max_new_tokens, stopTokenIds: [], padTokenId: 0 });
    const L = g.left_padded_input[0].length;
    expect(res.tokens).toEqual(g.output.map((row) => row.slice(L)));
    await dec.release();
  });

  afterAll(() => {});
});
