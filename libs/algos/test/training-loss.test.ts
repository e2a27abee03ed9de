// The loss-builder adapter on a real graph: a context shaped like libs/model's LossContext whose log-probs
// and entropy are graph inputs, run through onnxruntime and compared with the reference.
import { type Dim, type DType, Graph, OrtSession, type Tensor, type Value, backward, encodeModel } from "@lspo/model";
import { describe, expect, it } from "vitest";
import {
  type AlgorithmParams,
  aggregationWeights,
  presetSpec,
  referenceLoss,
  TRAINING_INPUTS,
  trainingLossBuilder,
} from "../src/index.js";
import { closeRows } from "./helpers.js";

function context(g: Graph) {
  const declared: string[] = [];
  let entropyCalls = 0;
  const logprobs = g.input("model_logprobs", "float64", ["B", "T"]);
  const ctx = {
    logprobs,
    dims: { B: "B", T: "T" } as const,
    input<E extends DType>(name: string, dtype: E, shape: readonly Dim[]): Value<E> {
      declared.push(`${name}:${dtype}[${shape.join(",")}]`);
      return g.input(name, dtype, shape);
    },
    entropy() {
      entropyCalls++;
      return g.input("model_entropy", "float64", ["B", "T"]);
    },
  };
  return { ctx, declared, logprobs, entropyCalls: () => entropyCalls };
}

const f64 = (shape: number[], rows: number[]) => ({ dtype: "float64", shape, data: Float64Array.from(rows) }) as Tensor;

describe("training loss builder - inputs", () => {
  it("GRPO declares logp_old, logp_ref, loss_mask [B,T] and advantages [B]; no entropy pass", () => {
    const c = context(new Graph());
    trainingLossBuilder(presetSpec("grpo").params)(c.ctx);
    expect(c.declared).toEqual([
      "logp_old:float64[B,T]", "logp_ref:float64[B,T]", "loss_mask:float64[B,T]", "advantages:float64[B]",
      "loss_weight:float64[B,T]",
    ]);
    expect(c.entropyCalls()).toBe(0);
  });

  it("DAPO (no KL) declares no logp_ref; the entropy pass only when asked for", () => {
    const c = context(new Graph());
    trainingLossBuilder(presetSpec("dapo").params)(c.ctx);
    expect(c.declared.map((d) => d.split(":")[0])).toEqual([
      TRAINING_INPUTS.logpOld, TRAINING_INPUTS.lossMask, TRAINING_INPUTS.advantages, TRAINING_INPUTS.lossWeight,
    ]);
    const withMetric = context(new Graph());
    const r = trainingLossBuilder(presetSpec("dapo").params, { entropyMetric: true })(withMetric.ctx);
    expect(withMetric.entropyCalls()).toBe(1);
    expect(Object.keys(r.metrics).sort()).toEqual([
      "approx_kl", "clip_frac_dual", "clip_frac_high", "clip_frac_low", "entropy", "mean_abs_advantage", "responses", "tokens",
    ]);
  });
});

describe("training loss builder - values", () => {
  it("GRPO with entropy bonus: loss and d loss/d logprobs equal the reference on a padded batch", async () => {
    const p = { ...presetSpec("grpo").params, entropy_coef: 0.01 };
    const g = new Graph();
    const c = context(g);
    const { loss, metrics } = trainingLossBuilder(p)(c.ctx);
    const [grad] = backward(loss, [c.logprobs]);
    g.output("loss", loss);
    g.output("grad", grad);
    g.output("clip_high", metrics.clip_frac_high);
    const session = await OrtSession.create(encodeModel(g), { threads: 1 });
    // B = 2, T = 3. Row 0: prompt token (mask 0) then 2 response tokens; row 1: 1 response token, 2 padding.
    const logp = [[-9, -0.3, -1.2], [-0.7, 0, 0]];
    const old = [[0, -0.5, -1.0], [-0.4, 0, 0]];
    const ref = [[0, -0.6, -1.1], [-0.9, 0, 0]];
    const ent = [[0, 1.5, 2.5], [0.5, 0, 0]];
    const mask = [[0, 1, 1], [1, 0, 0]];
    const out = await session.run({
      model_logprobs: f64([2, 3], logp.flat()),
      model_entropy: f64([2, 3], ent.flat()),
      logp_old: f64([2, 3], old.flat()),
      logp_ref: f64([2, 3], ref.flat()),
      loss_mask: f64([2, 3], mask.flat()),
      advantages: f64([2], [0.8, -1.3]),
      // seq-mean-token-mean over the padded mask: row 0 has 2 tokens, row 1 one: [[0, 1/4, 1/4], [1/2, 0, 0]]
      loss_weight: f64([2, 3], aggregationWeights(p, mask).flat()),
    });
    await session.release();
    const want = referenceLoss(p, {
      logp: [[-0.3, -1.2], [-0.7]], logpOld: [[-0.5, -1.0], [-0.4]], logpRef: [[-0.6, -1.1], [-0.9]],
      entropy: [[1.5, 2.5], [0.5]], mask: [[1, 1], [1]], advantages: [0.8, -1.3],
    });
    expect(Number(out.loss.data[0])).toBeCloseTo(want.loss, 13);
    const grad2 = Array.from(out.grad.data as Float64Array);
    closeRows([[grad2[1], grad2[2]], [grad2[3]]], want.gradLogp, 13);
    expect([grad2[0], grad2[4], grad2[5]]).toEqual([0, 0, 0]); // prompt and padding get no gradient
    // ratios e^0.2 = 1.2214 (> 1.2, A > 0: clipped high), e^-0.2, e^-0.3: one of three tokens clipped high.
    expect(Number(out.clip_high.data[0])).toBeCloseTo(1 / 3, 15);
    expect(want.metrics.clip_frac_high).toBeCloseTo(1 / 3, 15);
  });
});

async function compileBuilder(p: AlgorithmParams) {
  const g = new Graph();
  const c = context(g);
  const { loss } = trainingLossBuilder(p)(c.ctx);
  g.output("loss", loss);
  g.output("grad", backward(loss, [c.logprobs])[0]);
  return OrtSession.create(encodeModel(g), { threads: 1 });
}

describe("training loss builder - micro-batches", () => {
  // Four responses of lengths 1..4 padded to T = 4, split into two micro-batches of two rows. With
  // loss_weight computed over all four, the two micro-batch losses sum to the mini-batch loss and the
  // gradients are the mini-batch gradients; per-micro-batch normalisation would not (token-mean: 1+2 vs 3+4).
  const logp = [[-0.2], [-0.5, -1.1], [-0.3, -0.9, -2.0], [-0.4, -0.6, -0.8, -1.5]];
  const logpOld = [[-0.25], [-0.45, -1.2], [-0.3, -0.95, -1.9], [-0.5, -0.6, -0.7, -1.4]];
  const advantages = [1.1, -0.4, 0.7, -1.4];
  const pad = (rows: number[][]) => rows.map((r) => [...r, ...Array(4 - r.length).fill(0)]);
  const mask = logp.map((r) => [...r.map(() => 1), ...Array(4 - r.length).fill(0)]);

  for (const [name, overrides] of [["dapo", { overlong_shaping: false }], ["gspo", { clip_low: 0.05, clip_high: 0.05 }], ["dr_grpo", { max_response_length: 6 }]] as const) {
    it(`${name}: micro-batch losses and gradients sum to the mini-batch reference`, async () => {
      const p = presetSpec(name, overrides).params;
      const session = await compileBuilder(p);
      const w = aggregationWeights(p, mask);
      let total = 0;
      const grads: number[][] = [];
      for (const rows of [[0, 1], [2, 3]]) {
        const pick = (m: number[][]) => f64([2, 4], rows.flatMap((i) => m[i]));
        const out = await session.run({
          model_logprobs: pick(pad(logp)), logp_old: pick(pad(logpOld)), loss_mask: pick(mask),
          advantages: f64([2], rows.map((i) => advantages[i])), loss_weight: pick(w),
        });
        total += Number(out.loss.data[0]);
        const g = Array.from(out.grad.data as Float64Array);
        rows.forEach((i, k) => grads.push(logp[i].map((_, t) => g[k * 4 + t])));
      }
      await session.release();
      const want = referenceLoss(p, { logp, logpOld, logpRef: null, entropy: null, mask: logp.map((r) => r.map(() => 1)), advantages });
      expect(total).toBeCloseTo(want.loss, 14);
      closeRows(grads, want.gradLogp, 14);
    });
  }
});
