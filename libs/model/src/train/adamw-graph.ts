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

/**
 * Parameters in groups of at most `maxFloats` values (a larger tensor alone), in order. The update runs a group
 * at a time, each group's old parameters and moments released as its new ones arrive: the update's extra
 * memory is one group's, not a second copy of the whole state (graph outputs never alias their inputs).
 */
export function adamwGroups(shapes: ReadonlyMap<string, { shape: readonly number[] }>, maxFloats = ADAMW_GROUP_FLOATS): string[][] {
  const groups: string[][] = [];
  let size = Infinity;
  for (const [name, t] of shapes) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (size + n > maxFloats) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(name);
    size += n;
  }
  return groups;
}

/** 2^26 floats (256 MiB) per AdamW group: three of them (new p, m, v) is the update's extra memory. */
export const ADAMW_GROUP_FLOATS = 2 ** 26;

const subset = <T>(m: ReadonlyMap<string, T>, names: readonly string[]) => new Map(names.map((n) => [n, m.get(n)!]));

export class OnnxAdamW {
  private constructor(
    private readonly c: AdamWConfig,
    private readonly sessions: { names: string[]; session: OrtSession }[],
  ) {}

  static async create(weights: Weights, c: AdamWConfig, options: SessionOptions & { groupFloats?: number } = {}): Promise<OnnxAdamW> {
    const { groupFloats, ...session } = options;
    const groups = adamwGroups(weights, groupFloats);
    return new OnnxAdamW(c, await Promise.all(groups.map(async (names) => ({ names, session: await OrtSession.create(encodeModel(adamwGraph(subset(weights, names), c)), session) }))));
  }

  /** Same contract as adamwStep: updates `weights` and `state` (by replacing their arrays). */
  async step(weights: Weights, grads: ReadonlyMap<string, Float32Array>, state: AdamWState, lr: number, gradScale = 1): Promise<void> {
    for (const name of weights.keys()) if (!grads.get(name)) throw new OptimizerError(`no gradient for parameter '${name}'`);
    const t = ++state.step;
    for (const { names, session } of this.sessions) {
      const feeds: Record<string, Tensor> = {
        keep: scalar(1 - lr * this.c.weightDecay),
        step_size: scalar(lr / (1 - this.c.beta1 ** t)),
        bc2_sqrt: scalar(Math.sqrt(1 - this.c.beta2 ** t)),
        grad_scale: scalar(gradScale),
      };
      for (const name of names) {
        const p = weights.get(name)!;
        feeds[`p.${name}`] = p;
        feeds[`g.${name}`] = { dtype: "float32", shape: p.shape, data: grads.get(name)! };
        feeds[`m.${name}`] = state.m.get(name)!;
        feeds[`v.${name}`] = state.v.get(name)!;
      }
      const out = await session.run(feeds);
      for (const name of names) {
        weights.get(name)!.data.set(out[`new_p.${name}`].data as Float32Array);
        state.m.set(name, out[`new_m.${name}`] as Tensor<"float32">);
        state.v.set(name, out[`new_v.${name}`] as Tensor<"float32">);
      }
    }
  }

  /** How many groups the update runs in. */
  get groups(): number {
    return this.sessions.length;
  }

  async release(): Promise<void> {
    for (const s of this.sessions) await s.session.release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
