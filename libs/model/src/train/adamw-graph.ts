// The AdamW update of adamw.ts as one ONNX graph over every parameter, the alternative the issue asks to
// measure against the JS loop (bench/model.ts). Same formula and order; outputs replace the arrays.
import { Graph, type Value } from "../graph/graph.js";
import { add, div, mul, sqrt, sub } from "../graph/ops-elementwise.js";
import { encodeModel } from "../graph/serialize.js";
import { OrtSession, type SessionOptions } from "../runtime/session.js";
import type { Tensor, Weights } from "../tensor.js";
import { type AdamWConfig, type AdamWState, decays, OptimizerError } from "./adamw.js";

const scalar = (x: number): Tensor<"float32"> => ({ dtype: "float32", shape: [], data: Float32Array.of(x) });

/** With `hostCopy`, also host_p.<name>: the new parameters once more, for a caller that keeps new_p on the
 *  device and still needs them on the host (the learner publishes weights after every step). */
export function adamwGraph(weights: ReadonlyMap<string, { shape: readonly number[] }>, c: AdamWConfig, o: { hostCopy?: boolean } = {}): Graph {
  const g = new Graph("adamw");
  const keep = g.input("keep", "float32", []); // 1 - lr * wd
  const stepSize = g.input("step_size", "float32", []); // lr / (1 - b1^t)
  const bc2Sqrt = g.input("bc2_sqrt", "float32", []); // sqrt(1 - b2^t)
  const gscale = g.input("grad_scale", "float32", []);
  for (const [name, t] of weights) {
    const [p, gr, m, v] = ["p", "g", "m", "v"].map((k) => g.input(`${k}.${name}`, "float32", [...t.shape]));
    const gi = mul(gr, gscale);
    const m2 = add(mul(m, c.beta1), mul(gi, 1 - c.beta1)); // [shape]
    const v2 = add(mul(v, c.beta2), mul(mul(gi, gi), 1 - c.beta2));
    const denom = add(div(sqrt(v2), bc2Sqrt), c.eps);
    const decayed: Value<"float32"> = decays(c, t) ? mul(p, keep) : p;
    const p2 = sub(decayed, div(mul(m2, stepSize), denom));
    g.output(`new_p.${name}`, p2);
    if (o.hostCopy) g.output(`host_p.${name}`, p2);
    g.output(`new_m.${name}`, m2);
    g.output(`new_v.${name}`, v2);
  }
  return g;
}

export class OnnxAdamW {
  private constructor(
    private readonly c: AdamWConfig,
    private readonly session: OrtSession,
  ) {}

  static async create(weights: Weights, c: AdamWConfig, options: SessionOptions = {}): Promise<OnnxAdamW> {
    return new OnnxAdamW(c, await OrtSession.create(encodeModel(adamwGraph(weights, c)), options));
  }

  /** Same contract as adamwStep: updates `weights` and `state` (by replacing their arrays). */
  async step(weights: Weights, grads: ReadonlyMap<string, Float32Array>, state: AdamWState, lr: number, gradScale = 1): Promise<void> {
    const t = ++state.step;
    const feeds: Record<string, Tensor> = {
      keep: scalar(1 - lr * this.c.weightDecay),
      step_size: scalar(lr / (1 - this.c.beta1 ** t)),
      bc2_sqrt: scalar(Math.sqrt(1 - this.c.beta2 ** t)),
      grad_scale: scalar(gradScale),
    };
    for (const [name, p] of weights) {
      const g = grads.get(name);
      if (!g) throw new OptimizerError(`no gradient for parameter '${name}'`);
      feeds[`p.${name}`] = p;
      feeds[`g.${name}`] = { dtype: "float32", shape: p.shape, data: g };
      feeds[`m.${name}`] = state.m.get(name)!;
      feeds[`v.${name}`] = state.v.get(name)!;
    }
    const out = await this.session.run(feeds);
    for (const name of weights.keys()) {
      weights.get(name)!.data.set(out[`new_p.${name}`].data as Float32Array);
      state.m.set(name, out[`new_m.${name}`] as Tensor<"float32">);
      state.v.set(name, out[`new_v.${name}`] as Tensor<"float32">);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
