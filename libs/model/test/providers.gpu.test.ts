// GPU lane: the fixture's logits and gradients, and a training step, on a GPU execution provider. Opt in with
// LSPO_GPU_PROVIDER=cuda (or webgpu) on a machine that has it; then any failure is a real failure. Elsewhere
// the lane skips with a note (the CPU lane covers the same checks).
import { describe, expect, it } from "vitest";
import { ops } from "../src/graph/ops.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { weightsFromCheckpoint } from "../src/hf/params.js";
import { decodeEntry, parseSafetensors } from "../src/hf/safetensors.js";
import { makeTokenBatch } from "../src/llama/batch.js";
import type { Provider } from "../src/runtime/providers.js";
import { ForwardSession, GradientSession } from "../src/runtime/train-session.js";
import type { Tensor } from "../src/tensor.js";
import { Trainer } from "../src/train/trainer.js";
import { HAVE_LLAMA_FIXTURE, fixtureBytes, fixtureText } from "./support/fixture.js";

const provider = process.env.LSPO_GPU_PROVIDER as Provider | undefined;
const NOTE = !provider
  ? "skipped: GPU lane; set LSPO_GPU_PROVIDER=cuda|webgpu on a machine with that provider"
  : "skipped: GPU lane needs the Hugging Face fixture in ../shared";

describe.skipIf(!provider || !HAVE_LLAMA_FIXTURE)(`gpu - fixture on ${provider}`, () => {
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
    const loss = (ctx: Parameters<Parameters<typeof GradientSession.create>[1]>[0]) => {
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

    const t = await Trainer.create(config, weights, loss, { schedule: { kind: "constant", lr: 1e-3, warmupSteps: 0 }, provider });
    const step = await t.train([{ ...batch, extras: { loss_coef: { dtype: "float32", shape: [B, T], data: padded } } }]);
    await t.release();
    expect(step.loss).toBeCloseTo((ref.get("loss")!.data as Float32Array)[0], 4);
  });
});
if (!provider || !HAVE_LLAMA_FIXTURE) it.skip(NOTE, () => {});
