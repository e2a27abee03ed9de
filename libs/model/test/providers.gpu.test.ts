// GPU lane: the fixture's logits and gradients, and a training step, on a GPU execution provider. Opt in with
// LSPO_GPU_PROVIDER=cuda (or webgpu) on a machine that has it; then any failure is a real failure. Elsewhere
// the lane skips with a note (the CPU lane covers the same checks).
import { describe, expect, it } from "vitest";
import { ops } from "../src/graph/ops.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { decodeEntry, parseSafetensors } from "../src/hf/safetensors.js";
import { makeTokenBatch } from "../src/llama/batch.js";
import type { LossBuilder } from "../src/llama/graphs.js";
import type { Provider } from "../src/runtime/providers.js";
import { generate } from "../src/generate/generate.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { ForwardSession, GradientSession } from "../src/runtime/train-session.js";
import type { Tensor } from "../src/tensor.js";
import { Trainer } from "../src/train/trainer.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";

const provider = process.env.LSPO_GPU_PROVIDER as Provider | undefined;
const NOTE = "skipped: GPU lane; set LSPO_GPU_PROVIDER=cuda|webgpu on a machine with that provider";

describe.skipIf(!provider)(`gpu - fixture on ${provider}`, () => {
  it("gpu - logits and every gradient within the fixture's tolerances; a training step runs", async () => {
    const config = parseConfigJson(fixtureText("config.json"));
    const weights = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, config);
    const ref = new Map([...parseSafetensors(fixtureBytes("reference.safetensors")).tensors].map(([k, e]) => [k, decodeEntry(e)]));
    const ids = ref.get("input_ids") as Tensor<"int64">;
    const [B, T] = ids.shape;
    const batch = makeTokenBatch(Array.from({ length: B }, (_, b) => Array.from(ids.data.subarray(b * T, (b + 1) * T), Number)));
    const fwd = await ForwardSession.create(config, { provider });
    const logits = await fwd.logits(weights, batch);
    await fwd.release();
    const want = ref.get("logits")!.data as Float32Array;
    expect(Math.max(...Array.from(logits.data, (x, i) => Math.abs(x - want[i])))).toBeLessThanOrEqual(1e-4);

    const coef = ref.get("loss_coef") as Tensor<"float32">;
    const padded = new Float32Array(B * T);
    for (let b = 0; b < B; b++) padded.set(coef.data.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
    const loss: LossBuilder = (ctx) => {
      const c = ctx.input("loss_coef", "float32", ["B", "T"]);
      return { loss: ops.neg(ops.div(ops.sumAll(ops.mul(c, ctx.logprobs)), B * (T - 1))) };
    };
    const gs = await GradientSession.create(config, loss, { provider });
    const r = await gs.run(weights, { ...batch, extras: { loss_coef: { dtype: "float32", shape: [B, T], data: padded } } });
    await gs.release();
    for (const [name, g] of r.grads) {
      const w = ref.get(`grad.${name}`)!.data as Float32Array;
      const tol = 1e-4 + 1e-3 * Math.max(...Array.from(w, Math.abs));
      expect(Math.max(...Array.from(g.data, (x, i) => Math.abs(x - w[i]))), name).toBeLessThanOrEqual(tol);
    }

    // The trainer with its state on the device (the webgpu default) against the host path on cpu.
    const opts = { schedule: { kind: "constant" as const, lr: 1e-3, warmupSteps: 0 } };
    const mb = [{ ...batch, extras: { loss_coef: { dtype: "float32" as const, shape: [B, T], data: padded } } }];
    const t = await Trainer.create(config, weights, loss, { ...opts, provider, keepOnDevice: true });
    const host = await Trainer.create(config, weights, loss, opts);
    const [step, hostStep] = [await t.train(mb), await host.train(mb)];
    expect(step.loss).toBeCloseTo((ref.get("loss")!.data as Float32Array)[0], 4);
    expect(step.gradNorm).toBeCloseTo(hostStep.gradNorm, 3);
    await t.release();
    await host.release();

    // Greedy decoding with weights and KV cache on the device: the same tokens as the CPU provider's host cache.
    const prompts = [[1, 5, 9, 13], [1, 7]];
    const onDevice = await OnnxDecoder.create(config, weights, { provider, keepOnDevice: true });
    const onHost = await OnnxDecoder.create(config, weights);
    const [a, b] = [await generate(onDevice, prompts, { maxNewTokens: 8, stopTokenIds: [] }), await generate(onHost, prompts, { maxNewTokens: 8, stopTokenIds: [] })];
    expect(a.tokens).toEqual(b.tokens);
    await onDevice.release();
    await onHost.release();
  });
});
if (!provider) it.skip(NOTE, () => {});
