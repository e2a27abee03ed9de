// Every gradient rule against central finite differences in float64, through onnxruntime.
import { describe, expect, it } from "vitest";
import { backward } from "../src/autodiff/backward.js";
import { GRAD_RULES } from "../src/autodiff/rules.js";
import { Graph, GraphError, type Value } from "../src/graph/graph.js";
import { OPS, type Op } from "../src/graph/op-list.js";
import * as E from "../src/graph/ops-elementwise.js";
import * as L from "../src/graph/ops-linalg.js";
import * as Y from "../src/graph/ops-layout.js";
import { encodeModel, liveNodes } from "../src/graph/serialize.js";
import { attentionBias, maskedSoftmax, rmsNorm, rope, ropeTables } from "../src/llama/layers.js";
import { OrtSession } from "../src/runtime/session.js";
import { checkGradients, type FdCase } from "./support/fd.js";

type X = Value<"float64">;
const pos: [number, number] = [0.5, 2];
const idx = (g: Graph, shape: number[], values: number[]) =>
  g.constant({ dtype: "int64", shape, data: BigInt64Array.from(values, (v) => BigInt(v)) });

/** Cases per op; an op's cases must exercise its rule (the coverage test below checks every op has some). */
const CASES: Partial<Record<Op, Record<string, FdCase>>> = {
  Add: {
    "broadcast rhs": { inputs: [{ shape: [2, 3] }, { shape: [3] }], build: ([a, b]) => E.add(a, b) },
    "broadcast both": { inputs: [{ shape: [2, 1, 3] }, { shape: [4, 1] }], build: ([a, b]) => E.add(a, b) },
  },
  Sub: { "broadcast": { inputs: [{ shape: [2, 3] }, { shape: [2, 1] }], build: ([a, b]) => E.sub(a, b) } },
  Mul: { "broadcast": { inputs: [{ shape: [3, 1, 2] }, { shape: [4, 2] }], build: ([a, b]) => E.mul(a, b) } },
  Div: { "broadcast": { inputs: [{ shape: [2, 3] }, { shape: [3], range: pos }], build: ([a, b]) => E.div(a, b) } },
  Pow: {
    "tensor exponent": { inputs: [{ shape: [2, 3], range: pos }, { shape: [3] }], build: ([a, b]) => E.pow(a, b) },
    "constant square": { inputs: [{ shape: [2, 3] }], build: ([a]) => E.pow(a, 2) },
    "constant 1.5": { inputs: [{ shape: [4], range: pos }], build: ([a]) => E.pow(a, 1.5) },
  },
  Min: { "broadcast": { inputs: [{ shape: [2, 3] }, { shape: [3] }], build: ([a, b]) => E.minimum(a, b) } },
  Max: { "broadcast": { inputs: [{ shape: [2, 3] }, { shape: [2, 1] }], build: ([a, b]) => E.maximum(a, b) } },
  Where: {
    "broadcast": {
      inputs: [{ shape: [2, 3] }, { shape: [3] }, { shape: [2, 3], grad: false }],
      build: ([a, b, c]) => E.where(E.less(c, 0), a, b),
    },
  },
  Neg: { "": { inputs: [{ shape: [5] }], build: ([a]) => E.neg(a) } },
  Exp: { "": { inputs: [{ shape: [5] }], build: ([a]) => E.exp(a) } },
  Log: { "": { inputs: [{ shape: [5], range: pos }], build: ([a]) => E.log(a) } },
  Sqrt: { "": { inputs: [{ shape: [5], range: pos }], build: ([a]) => E.sqrt(a) } },
  Reciprocal: { "": { inputs: [{ shape: [5], range: pos }], build: ([a]) => E.reciprocal(a) } },
  Sigmoid: { "": { inputs: [{ shape: [5], range: [-3, 3] }], build: ([a]) => E.sigmoid(a) } },
  Tanh: { "": { inputs: [{ shape: [5] }], build: ([a]) => E.tanh(a) } },
  Cos: { "": { inputs: [{ shape: [5], range: [-3, 3] }], build: ([a]) => E.cos(a) } },
  Sin: { "": { inputs: [{ shape: [5], range: [-3, 3] }], build: ([a]) => E.sin(a) } },
  Identity: { "": { inputs: [{ shape: [5] }], build: ([a]) => E.identity(a) } },
  Cast: {
    // Through float32 and back: the function is a staircase of float32 steps, so use a coarse h.
    "float64 -> float32 -> float64": {
      inputs: [{ shape: [4] }],
      build: ([a]) => E.cast(E.mul(E.cast(a, "float32"), 3), "float64"),
      h: 1e-2,
      tol: 1e-5,
    },
  },
  Clip: {
    "both bounds": { inputs: [{ shape: [8], data: [-2, -0.7, -0.3, 0.1, 0.35, 0.6, 1.4, 3] }], build: ([a]) => E.clip(a, -0.5, 0.5) },
    "lower only": { inputs: [{ shape: [4], data: [-2, -0.7, 0.3, 1.4] }], build: ([a]) => E.clip(a, -0.5, null) },
  },
  MatMul: {
    "batched A, weight B": { inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }], build: ([a, b]) => L.matmul(a, b) },
    "batched both": { inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }], build: ([a, b]) => L.matmul(a, b) },
    "broadcast A": { inputs: [{ shape: [3, 4] }, { shape: [2, 4, 5] }], build: ([a, b]) => L.matmul(a, b) },
    "broadcast batch dims": { inputs: [{ shape: [2, 1, 3, 4] }, { shape: [3, 4, 2] }], build: ([a, b]) => L.matmul(a, b) },
    "symbolic batch": { inputs: [{ shape: ["B", 3, 4], feed: [2, 3, 4] }, { shape: [4, 2] }], build: ([a, b]) => L.matmul(a, b) },
  },
  Gemm: Object.fromEntries(
    [[false, false], [true, false], [false, true], [true, true]].map(([transA, transB]) => [
      `transA=${transA} transB=${transB}`,
      {
        inputs: [{ shape: transA ? [4, 3] : [3, 4] }, { shape: transB ? [5, 4] : [4, 5] }, { shape: [5] }],
        build: ([a, b, c]: X[]) => L.gemm(a, b, c, { transA, transB, alpha: 0.7, beta: 1.3 }),
      } satisfies FdCase,
    ]),
  ),
  Softmax: {
    "last axis": { inputs: [{ shape: [2, 4] }], build: ([a]) => L.softmax(a, -1) },
    "axis 0": { inputs: [{ shape: [3, 2] }], build: ([a]) => L.softmax(a, 0) },
  },
  LogSoftmax: { "last axis": { inputs: [{ shape: [2, 4] }], build: ([a]) => L.logSoftmax(a, -1) } },
  ReduceSum: {
    "keepdims": { inputs: [{ shape: [2, 3, 2] }], build: ([a]) => L.reduceSum(a, [0, 2], true) },
    "no keepdims": { inputs: [{ shape: [2, 3, 2] }], build: ([a]) => L.reduceSum(a, [1]) },
  },
  ReduceMean: {
    "static": { inputs: [{ shape: [2, 3, 2] }], build: ([a]) => L.reduceMean(a, [1, 2]) },
    "symbolic dim": { inputs: [{ shape: ["B", 3], feed: [4, 3] }], build: ([a]) => L.reduceMean(a, [0], true) },
  },
  ReduceMax: { "": { inputs: [{ shape: [3, 4] }], build: ([a]) => L.reduceMax(a, [1]) } },
  ReduceLogSumExp: {
    "last axis, kept": { inputs: [{ shape: [3, 4] }], build: ([a]) => L.reduceLogSumExp(a, [1], true) },
    "two axes, dropped": { inputs: [{ shape: [2, 3, 4] }], build: ([a]) => L.reduceLogSumExp(a, [0, 2]) },
    // Far from 0: onnxruntime takes the max out first, else exp() overflows and the gradient is NaN.
    "large logits": { inputs: [{ shape: [2, 5], range: [800, 900] }], build: ([a]) => L.reduceLogSumExp(a, [1]) },
  },
  Reshape: {
    "static": { inputs: [{ shape: [2, 3, 2] }], build: ([a]) => Y.reshape(a, [3, 4]) },
    "symbolic": { inputs: [{ shape: ["B", 6], feed: [2, 6] }], build: ([a]) => Y.reshape(a, [0, 2, 3]) },
  },
  Transpose: { "": { inputs: [{ shape: [2, 3, 4] }], build: ([a]) => Y.transpose(a, [2, 0, 1]) } },
  Slice: {
    "static, two axes": { inputs: [{ shape: [4, 5] }], build: ([a]) => Y.slice(a, [1, -3], [3, 2 ** 62], [0, 1]) },
    "symbolic dim, drop last": { inputs: [{ shape: [2, "T"], feed: [2, 5] }], build: ([a]) => Y.slice(a, [0], [-1], [1]) },
    "symbolic dim, from 1": { inputs: [{ shape: [2, "T"], feed: [2, 5] }], build: ([a]) => Y.slice(a, [1], [2 ** 62], [1]) },
  },
  Concat: {
    "static": { inputs: [{ shape: [2, 3] }, { shape: [2, 1] }], build: ([a, b]) => Y.concat([a, b], 1) },
    "symbolic": { inputs: [{ shape: ["P", 2], feed: [3, 2] }, { shape: ["T", 2], feed: [2, 2] }], build: ([a, b]) => Y.concat([a, E.mul(b, b)], 0) },
  },
  Split: {
    "one output unused": { inputs: [{ shape: [2, 5] }], build: ([a]) => { const [p, , r] = Y.split(a, 1, [2, 1, 2]); return E.mul(p, r); } },
  },
  Expand: { "": { inputs: [{ shape: [3, 1] }], build: ([a]) => Y.expand(a, [2, 3, 4]) } },
  Unsqueeze: { "": { inputs: [{ shape: [3, 2] }], build: ([a]) => E.mul(Y.unsqueeze(a, [0, 2]), Y.unsqueeze(a, [0, 2])) } },
  Squeeze: { "": { inputs: [{ shape: [3, 1, 2] }], build: ([a]) => E.exp(Y.squeeze(a, [1])) } },
  Pad: { "": { inputs: [{ shape: [2, 3] }], build: ([a]) => E.exp(Y.pad(a, [1, 0, 0, 2])) } },
  Gather: {
    "embedding, repeated ids": { inputs: [{ shape: [5, 3] }], build: ([a], g) => Y.gather(a, idx(g, [2, 3], [4, 0, 4, 1, 4, 0]), 0) },
  },
  GatherElements: {
    "token picks, repeated": { inputs: [{ shape: [2, 3, 4] }], build: ([a], g) => Y.gatherElements(a, idx(g, [2, 3, 1], [3, 0, 3, 1, 1, 2]), 2) },
  },
  ScatterElements: {
    "add, repeated": {
      inputs: [{ shape: [2, 4] }, { shape: [2, 3] }],
      build: ([a, u], g) => Y.scatterElements(a, idx(g, [2, 3], [0, 0, 3, 1, 2, 1]), u, 1, "add"),
    },
  },
  CumSum: {
    "inclusive": { inputs: [{ shape: [2, 4] }], build: ([a]) => L.cumSum(a, 1) },
    "exclusive reverse": { inputs: [{ shape: [3, 2] }], build: ([a]) => L.cumSum(a, 0, { exclusive: true, reverse: true }) },
  },
};

/** Composite functions built from primitives: their gradients come from the rules above, checked end to end. */
const COMPOSITES: Record<string, FdCase> = {
  "SiLU": { inputs: [{ shape: [6], range: [-3, 3] }], build: ([a]) => E.silu(a) },
  "RMSNorm": { inputs: [{ shape: [3, 4] }, { shape: [4] }], build: ([x, w]) => rmsNorm(x, w, 1e-6) },
  "RoPE": {
    inputs: [{ shape: [2, 3, 2, 4] }],
    build: ([x], g) => {
      const { cos, sin } = ropeTables(idx(g, [2, 3], [0, 1, 2, 5, 6, 7]), 4, 10000, "float64");
      return rope(x, cos, sin);
    },
  },
  // Right padding, so every query sees a key: a query that sees none (left padding's pad rows, whose outputs
  // nothing reads) softmaxes s - 1e9, where a finite difference of s is lost in the rounding of 1e9.
  "masked softmax over a right-padded causal mask (additive bias)": {
    inputs: [{ shape: [2, 1, 1, 3, 3] }],
    build: ([s], g) => maskedSoftmax(s, attentionBias(idx(g, [2, 3], [1, 1, 1, 1, 1, 0]), 3, "float64")),
  },
  "token log-probs (LogSoftmax + GatherElements)": {
    inputs: [{ shape: [2, 3, 5] }],
    build: ([logits], g) => Y.squeeze(Y.gatherElements(L.logSoftmax(logits, -1), idx(g, [2, 3, 1], [4, 0, 2, 2, 1, 4]), 2), [2]),
  },
  "PPO clipped objective": {
    inputs: [{ shape: [2, 4], range: [-0.6, 0.6] }, { shape: [2, 4], grad: false }, { shape: [2, 4], grad: false }],
    build: ([logp, oldLogp, adv]) => {
      const ratio = E.exp(E.sub(logp, oldLogp));
      return E.neg(E.minimum(E.mul(ratio, adv), E.mul(E.clip(ratio, 0.8, 1.28), adv)));
    },
    tol: 1e-6,
  },
};

describe("autodiff - finite differences in float64", () => {
  for (const [op, cases] of Object.entries(CASES)) {
    for (const [name, c] of Object.entries(cases ?? {})) {
      it(`${op}${name ? ` (${name})` : ""}`, async () => {
        const r = await checkGradients(c);
        expect(r.failures).toEqual([]);
        expect(r.checked).toBeGreaterThan(0);
      });
    }
  }
  for (const [name, c] of Object.entries(COMPOSITES)) {
    it(`composite: ${name}`, async () => {
      const r = await checkGradients(c);
      expect(r.failures).toEqual([]);
      expect(r.checked).toBeGreaterThan(0);
    });
  }
});

describe("autodiff - rule table", () => {
  const probe = (op: Op): boolean => {
    try {
      GRAD_RULES[op]({ node: { op, domain: "", inputs: [], outputs: [], attrs: {} }, gy: [], need: [true] });
      return true;
    } catch (e) {
      return !(e instanceof GraphError && /no gradient/.test(e.message));
    }
  };
  it("every op with a gradient rule has a finite-difference case", () => {
    const differentiable = OPS.filter(probe);
    const untested = differentiable.filter((op) => !CASES[op] || Object.keys(CASES[op]!).length === 0);
    expect(untested).toEqual([]);
    expect(differentiable.length).toBeGreaterThan(30);
  });
  it("ops without a gradient say so when asked for one", () => {
    expect(probe("Equal")).toBe(false);
    expect(probe("ArgMax")).toBe(false);
    expect(probe("ScatterND")).toBe(false);
  });
});

describe("autodiff - conventions at kinks (PyTorch's)", () => {
  async function grads(build: (xs: X[]) => X, a: number[], b: number[]) {
    const g = new Graph();
    const xs = [g.input("a", "float64", [a.length]), g.input("b", "float64", [b.length])];
    const ga = backward(L.sumAll(build(xs)), xs);
    g.output("ga", ga[0]);
    g.output("gb", ga[1]);
    const s = await OrtSession.create(encodeModel(g));
    const r = await s.run({ a: { dtype: "float64", shape: [a.length], data: Float64Array.from(a) }, b: { dtype: "float64", shape: [b.length], data: Float64Array.from(b) } });
    return [Array.from(r.ga.data as Float64Array), Array.from(r.gb.data as Float64Array)];
  }
  it("Max and Min split the gradient of a tie in half", async () => {
    expect(await grads(([a, b]) => E.maximum(a, b), [1, 2, 3], [1, 5, 0])).toEqual([[0.5, 0, 1], [0.5, 1, 0]]);
    expect(await grads(([a, b]) => E.minimum(a, b), [1, 2, 3], [1, 5, 0])).toEqual([[0.5, 1, 0], [0.5, 0, 1]]);
  });
  it("Clip passes the gradient at the bounds themselves", async () => {
    expect((await grads(([a, b]) => E.add(E.clip(a, -1, 1), b), [-1, 1, 1.5, -2], [0]))[0]).toEqual([1, 1, 0, 0]);
  });
  it("ReduceMax shares the gradient evenly among tied maxima", async () => {
    expect((await grads(([a, b]) => E.add(L.reduceMax(a, [0]), b), [3, 1, 3, 2], [0]))[0]).toEqual([0.5, 0, 0.5, 0]);
  });
  it("a value the loss does not use gets a zero gradient", async () => {
    expect(await grads(([a]) => E.mul(a, 2), [1, 2], [7, 8, 9])).toEqual([[2, 2], [0, 0, 0]]);
  });
});

describe("autodiff - token log-prob backward", () => {
  it("LogSoftmax after GatherElements backpropagates as one scatter-add (no zero [N, V] tensor, no Sub)", () => {
    const g = new Graph();
    const logits = g.input("logits", "float32", ["N", 7]);
    const idx = g.input("idx", "int64", ["N", 1]);
    const picked = Y.gatherElements(L.logSoftmax(logits, -1), idx, 1);
    const [gl] = backward(L.sumAll(picked), [logits]);
    g.output("g", gl);
    const ops = liveNodes(g).nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "ScatterElements")).toHaveLength(1);
    expect(ops).not.toContain("ConstantOfShape");
    expect(ops).not.toContain("Sub");
  });
});

describe("autodiff - errors", () => {
  it("refuses a non-scalar loss", () => {
    const g = new Graph();
    const x = g.input("x", "float32", [3]);
    expect(() => backward(E.exp(x), [x])).toThrow(/loss must be a scalar/);
  });
  it("an integer cast blocks the gradient (as in PyTorch, integers carry none)", async () => {
    const g = new Graph();
    const x = g.input("x", "float64", [3]);
    const [gx] = backward(L.sumAll(E.cast(E.cast(x, "int64"), "float64")), [x]);
    g.output("gx", gx);
    const s = await OrtSession.create(encodeModel(g));
    const r = await s.run({ x: { dtype: "float64", shape: [3], data: Float64Array.of(1.5, 2, 3) } });
    expect(Array.from(r.gx.data as Float64Array)).toEqual([0, 0, 0]);
  });
});
