// Finite-difference check of the autodiff rules, run through onnxruntime in float64: build f(x...) once, emit
// loss = sum(f(x) * r) with a fixed random r, take its gradients with `backward`, and compare each gradient
// element with the central difference (loss(x + h e_i) - loss(x - h e_i)) / 2h computed by the same session.
import { backward } from "../../src/autodiff/backward.js";
import { type Dim, Graph, type Value } from "../../src/graph/graph.js";
import * as E from "../../src/graph/ops-elementwise.js";
import * as L from "../../src/graph/ops-linalg.js";
import { encodeModel } from "../../src/graph/serialize.js";
import { OrtSession } from "../../src/runtime/session.js";
import type { Tensor } from "../../src/tensor.js";

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FdInput {
  /** Build-time shape (may hold symbols); `feed` gives the concrete one when it does. */
  shape: Dim[];
  feed?: number[];
  /** Value range for the random data: [lo, hi). */
  range?: [number, number];
  /** Explicit data instead of random. */
  data?: number[];
  /** Whether the gradient for this input is checked (default true). */
  grad?: boolean;
}

export interface FdCase {
  inputs: FdInput[];
  build: (xs: Value<"float64">[], g: Graph) => Value<"float64">;
  /** Step for the central difference (default 1e-6). */
  h?: number;
  /** Allowed |analytic - numeric| <= tol * (1 + |numeric|) (default 1e-7). */
  tol?: number;
}

export interface FdReport {
  checked: number;
  worst: number;
  failures: string[];
}

export async function checkGradients(c: FdCase, seed = 1): Promise<FdReport> {
  const rand = rng(seed);
  const g = new Graph("fd");
  const xs = c.inputs.map((s, i) => g.input(`x${i}`, "float64", s.shape));
  const y = c.build(xs, g);
  const concrete = (s: FdInput) => (s.feed ?? s.shape) as number[];
  const r = g.input("r", "float64", y.shape);
  const loss = L.sumAll(E.mul(y, r));
  g.output("loss", loss);
  const wrt = xs.filter((_, i) => c.inputs[i].grad !== false);
  const grads = backward(loss, wrt);
  grads.forEach((gr, i) => g.output(`grad_${wrt[i].name}`, gr));
  // Level "basic": extended fusions (QuickGelu for x*sigmoid(x)) have float32-only kernels, and we test our
  // graph here, not onnxruntime's rewrites of it.
  const session = await OrtSession.create(encodeModel(g), { optimization: "basic" });

  const feeds: Record<string, Tensor> = {};
  c.inputs.forEach((s, i) => {
    const shape = concrete(s);
    const n = shape.reduce((a, b) => a * b, 1);
    const [lo, hi] = s.range ?? [-1, 1];
    const data = s.data ? Float64Array.from(s.data) : Float64Array.from({ length: n }, () => lo + (hi - lo) * rand());
    if (data.length !== n) throw new Error(`input ${i}: data has ${data.length} values, shape needs ${n}`);
    feeds[`x${i}`] = { dtype: "float64", shape, data };
  });
  // y's concrete shape comes from one forward run with a scalar-shaped probe is not possible; run once with r = 1.
  const probe = await OrtSession.create(encodeModel(forwardOnly(c, xs.length)), { optimization: "basic" });
  const yShape = (await probe.run(feeds)).y.shape;
  const rn = yShape.reduce((a, b) => a * b, 1);
  feeds.r = { dtype: "float64", shape: yShape, data: Float64Array.from({ length: rn }, () => rand() * 2 - 1) };

  const res = await session.run(feeds);
  const h = c.h ?? 1e-6;
  const tol = c.tol ?? 1e-7;
  const report: FdReport = { checked: 0, worst: 0, failures: [] };
  for (const w of wrt) {
    const x = feeds[w.name].data as Float64Array;
    const analytic = res[`grad_${w.name}`].data as Float64Array;
    if (analytic.length !== x.length) {
      report.failures.push(`${w.name}: gradient has ${analytic.length} values, input has ${x.length}`);
      continue;
    }
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i];
      x[i] = x0 + h;
      const up = ((await session.run(feeds, ["loss"])).loss.data as Float64Array)[0];
      x[i] = x0 - h;
      const down = ((await session.run(feeds, ["loss"])).loss.data as Float64Array)[0];
      x[i] = x0;
      const numeric = (up - down) / (2 * h);
      const err = Math.abs(analytic[i] - numeric) / (1 + Math.abs(numeric));
      report.checked++;
      report.worst = Math.max(report.worst, err);
      if (!(err <= tol)) report.failures.push(`${w.name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`);
    }
  }
  await session.release();
  await probe.release();
  return report;
}

function forwardOnly(c: FdCase, n: number): Graph {
  const g = new Graph("fd_forward");
  const xs = Array.from({ length: n }, (_, i) => g.input(`x${i}`, "float64", c.inputs[i].shape));
  g.output("y", c.build(xs, g));
  return g;
}
