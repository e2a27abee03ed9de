// Vector-Jacobian products, one per op, in ONE table (tinygrad's habit): a rule gets the node and the
// gradients of its outputs, and returns one gradient per input (null where none is needed). Broadcasting is
// undone by `unbroadcast`. Conventions at kinks follow PyTorch: Min/Max split ties in half, Clip passes the
// gradient where lo <= x <= hi, ReduceMax shares it evenly among tied maxima.
import { type Dim, type FloatDType, type Graph, GraphError, isFloat, type Node, Value } from "../graph/graph.js";
import type { Op } from "../graph/op-list.js";
import * as E from "../graph/ops-elementwise.js";
import * as L from "../graph/ops-linalg.js";
import * as Y from "../graph/ops-layout.js";
import { broadcastAxes } from "../graph/shape.js";

type F = Value<FloatDType>;

export interface GradContext {
  node: Node;
  /** Gradient of each output, null where no gradient reaches it. */
  gy: (F | null)[];
  /** Whether each input needs a gradient. */
  need: boolean[];
}

export type GradRule = (c: GradContext) => (Value | null)[];

// ---- helpers ----------------------------------------------------------------------------------------------

/** Sums `g` (shaped like the broadcast result) back to the shape of `x`. */
export function unbroadcast(g: F, x: Value): F {
  const { leading, stretched } = broadcastAxes(x.shape, g.shape);
  let r = g;
  if (stretched.length) r = L.reduceSum(r, stretched, true);
  if (leading) r = L.reduceSum(r, Array.from({ length: leading }, (_, i) => i), false);
  return r;
}

function intAttr(n: Node, name: string, dflt: number): number {
  const a = n.attrs[name];
  return a && a.kind === "int" ? a.value : dflt;
}

function floatAttr(n: Node, name: string, dflt: number): number {
  const a = n.attrs[name];
  return a && a.kind === "float" ? a.value : dflt;
}

/** The values of a constant int64 input (axes, starts, pads): rules need them at build time. */
function constInts(g: Graph, v: Value | null, what: string): number[] {
  const t = v ? g.initializers.get(v.name) : undefined;
  if (!t || t.dtype !== "int64") throw new GraphError(`gradient needs ${what} to be a constant int64 tensor, got ${v}`);
  return Array.from(t.data as BigInt64Array, Number);
}

/** The value of a constant float scalar, or null when `v` is computed. */
function constScalar(g: Graph, v: Value): number | null {
  const t = g.initializers.get(v.name);
  return t && t.data.length === 1 && isFloat(t.dtype) ? Number(t.data[0]) : null;
}

const swapLast = (x: F) => Y.transpose(x, [...x.shape.keys()].map((i) => (i < x.rank - 2 ? i : 2 * x.rank - 3 - i)));
const gOf = (c: GradContext) => c.gy[0] as F;
const inp = (c: GradContext, i: number) => c.node.inputs[i] as F;
const out = (c: GradContext) => c.node.outputs[0] as F;
const when = <T>(need: boolean, f: () => T): T | null => (need ? f() : null);

/** Gradient of a reduction with keepdims=0 re-expanded to the input's shape. */
function expandReduced(c: GradContext, g: F): F {
  const x = inp(c, 0);
  const axes = constInts(x.graph, c.node.inputs[1], "reduction axes");
  const kept = intAttr(c.node, "keepdims", 1) ? g : Y.unsqueeze(g, axes);
  return Y.expandLike(kept, x);
}

/** Elements reduced per output element, as a scalar of `dtype` (static when the dims are known). */
function reducedCount(c: GradContext, dtype: FloatDType): F {
  const x = inp(c, 0);
  const axes = constInts(x.graph, c.node.inputs[1], "reduction axes");
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d): d is number => typeof d === "number")) return x.graph.scalar(dtype, dims.reduce((a, b) => a * b, 1));
  return E.cast(E.div(Y.sizeOf(x), Y.sizeOf(out(c))), dtype);
}

/** Pads for undoing x[starts:ends] along `axes`, computed at build time where the dims are known. */
function slicePads(x: Value, starts: number[], ends: number[], axes: number[]): Dim[] | Value<"int64"> {
  const before: Dim[] = x.shape.map(() => 0);
  const after: Dim[] = x.shape.map(() => 0);
  let runtime = false;
  axes.forEach((a, i) => {
    const d = x.shape[a];
    if (typeof d !== "number") return void (runtime = true);
    const clamp = (v: number) => Math.max(0, Math.min(d, v < 0 ? v + d : v));
    before[a] = clamp(starts[i]);
    after[a] = d - Math.max(clamp(ends[i]), clamp(starts[i]));
  });
  if (!runtime) return [...before, ...after];
  // Run time: begin = clamp(start), end pad = d - max(clamp(end), begin), per sliced axis.
  const g = x.graph;
  const parts: Value<"int64">[] = [];
  const perAxis = x.shape.map((_, a) => {
    const i = axes.indexOf(a);
    if (i < 0) return { b: g.ints([0]), e: g.ints([0]) };
    const d = Y.dimOf(x, a);
    const clamp = (v: number) => {
      const raw = v < 0 ? E.add(d, v) : g.ints([Math.min(v, 2 ** 62)]);
      return E.maximum(E.minimum(raw, d), 0);
    };
    const b = clamp(starts[i]);
    return { b, e: E.sub(d, E.maximum(clamp(ends[i]), b)) };
  });
  for (const p of perAxis) parts.push(p.b);
  for (const p of perAxis) parts.push(p.e);
  return Y.concat(parts, 0);
}

/** d/dx max(a, b) (or min): the whole gradient where `a` wins, half of it on ties. */
function pickGrad(c: GradContext, wins: (a: F, b: F) => Value<"bool">): (Value | null)[] {
  const [a, b] = [inp(c, 0), inp(c, 1)];
  const g = gOf(c);
  const half = E.mul(g, 0.5);
  const tie = E.equal(a, b);
  const share = (self: F, other: F) => unbroadcast(E.where(tie, half, E.where(wins(self, other), g, 0)), self);
  return [when(c.need[0], () => share(a, b)), when(c.need[1], () => share(b, a))];
}

/** When `g` = ScatterElements(zeros, indices, updates, add) along `axis` with updates covering g's other axes. */
/** The node that makes `v` when `v` is a scatter-add (`op`) into a zero-filled tensor, else null: a gradient
 *  that is zero but for a few rows or elements, which a consumer can add more cheaply than densely. */
export function scatterAddIntoZeros(v: Value, op: "ScatterElements" | "ScatterND"): Node | null {
  const n = v.graph.producer(v);
  if (!n || n.op !== op || n.attrs.reduction?.value !== "add" || !n.inputs[0]) return null;
  const zeros = v.graph.producer(n.inputs[0]);
  const fill = zeros?.op === "ConstantOfShape" ? zeros.attrs.value?.value : undefined;
  return fill && typeof fill === "object" && "data" in fill && Number(fill.data[0]) === 0 ? n : null;
}

function scatteredIntoZeros(g: F, axis: number): { indices: Value<"int64">; updates: F } | null {
  const n = scatterAddIntoZeros(g, "ScatterElements");
  if (!n) return null;
  const a = axis < 0 ? axis + g.rank : axis;
  if (intAttr(n, "axis", 0) !== a) return null;
  const updates = n.inputs[2] as F;
  if (!updates.shape.every((d, i) => i === a || d === g.shape[i])) return null;
  return { indices: n.inputs[1] as Value<"int64">, updates };
}

const integerOnly: GradRule = (c) => {
  throw new GraphError(`${c.node.op} has no gradient (it computes integers, masks or shapes); an input that needs one: ${c.node.inputs.find((_, i) => c.need[i])}`);
};

// ---- the table ----------------------------------------------------------------------------------------------

export const GRAD_RULES = {
  Add: (c) => [when(c.need[0], () => unbroadcast(gOf(c), inp(c, 0))), when(c.need[1], () => unbroadcast(gOf(c), inp(c, 1)))],
  Sub: (c) => [when(c.need[0], () => unbroadcast(gOf(c), inp(c, 0))), when(c.need[1], () => unbroadcast(E.neg(gOf(c)), inp(c, 1)))],
  Mul: (c) => [
    when(c.need[0], () => unbroadcast(E.mul(gOf(c), inp(c, 1)), inp(c, 0))),
    when(c.need[1], () => unbroadcast(E.mul(gOf(c), inp(c, 0)), inp(c, 1))),
  ],
  Div: (c) => [
    when(c.need[0], () => unbroadcast(E.div(gOf(c), inp(c, 1)), inp(c, 0))),
    // d(a/b)/db = -a/b^2 = -y/b
    when(c.need[1], () => unbroadcast(E.neg(E.div(E.mul(gOf(c), out(c)), inp(c, 1))), inp(c, 1))),
  ],
  Pow: (c) => {
    const [x, p, y, g] = [inp(c, 0), inp(c, 1), out(c), gOf(c)];
    const k = constScalar(x.graph, p);
    // A constant exponent (x^2 in RMSNorm) folds at build time: d(x^2) = 2x, no Pow at run time.
    const dx = () => (k === 2 ? E.mul(x, 2) : k !== null ? E.mul(E.pow(x, k - 1), k) : E.mul(p, E.pow(x, E.sub(p, 1))));
    return [
      when(c.need[0], () => unbroadcast(E.mul(g, dx()), x)),
      when(c.need[1], () => unbroadcast(E.mul(g, E.mul(y, E.log(x))), p)),
    ];
  },
  Min: (c) => pickGrad(c, E.less),
  Max: (c) => pickGrad(c, E.greater),
  Where: (c) => {
    const [cond, g] = [c.node.inputs[0] as Value<"bool">, gOf(c)];
    return [
      null,
      when(c.need[1], () => unbroadcast(E.where(cond, g, 0), inp(c, 1))),
      when(c.need[2], () => unbroadcast(E.where(cond, 0, g), inp(c, 2))),
    ];
  },
  Neg: (c) => [E.neg(gOf(c))],
  Exp: (c) => [E.mul(gOf(c), out(c))],
  Log: (c) => [E.div(gOf(c), inp(c, 0))],
  Sqrt: (c) => [E.div(E.mul(gOf(c), 0.5), out(c))],
  Reciprocal: (c) => [E.neg(E.mul(gOf(c), E.mul(out(c), out(c))))],
  Sigmoid: (c) => [E.mul(gOf(c), E.mul(out(c), E.sub(1, out(c))))],
  Tanh: (c) => [E.mul(gOf(c), E.sub(1, E.mul(out(c), out(c))))],
  Cos: (c) => [E.neg(E.mul(gOf(c), E.sin(inp(c, 0))))],
  Sin: (c) => [E.mul(gOf(c), E.cos(inp(c, 0)))],
  Identity: (c) => [gOf(c)],
  Cast: (c) => {
    const x = c.node.inputs[0] as Value;
    if (!isFloat(x.dtype)) throw new GraphError(`Cast: cannot differentiate through a cast from ${x.dtype}`);
    return [E.cast(gOf(c), x.dtype)];
  },
  Clip: (c) => {
    const [x, lo, hi] = [inp(c, 0), c.node.inputs[1] as F | null, c.node.inputs[2] as F | null];
    if (c.need[1] || c.need[2]) throw new GraphError("Clip: the bounds are treated as constants; pass them without gradient");
    let keep: Value<"bool"> | null = null;
    if (lo) keep = E.greaterOrEqual(x, lo);
    if (hi) keep = keep ? E.and(keep, E.lessOrEqual(x, hi)) : E.lessOrEqual(x, hi);
    return [keep ? E.where(keep, gOf(c), 0) : gOf(c), null, null];
  },
  MatMul: (c) => {
    const [a, b, g] = [inp(c, 0), inp(c, 1), gOf(c)];
    const gb = () => {
      // Weight-like B [K,N] under batched A [..,M,K]: one GEMM over the flattened rows, not a batch then a sum.
      if (b.rank === 2 && a.rank > 2) return L.gemm(Y.reshape(a, [-1, a.shape[a.rank - 1]]), Y.reshape(g, [-1, g.shape[g.rank - 1]]), null, { transA: true });
      return unbroadcast(L.matmul(swapLast(a), g), b);
    };
    return [when(c.need[0], () => unbroadcast(L.matmul(g, swapLast(b)), a)), when(c.need[1], gb)];
  },
  Gemm: (c) => {
    const [a, b, cc, g] = [inp(c, 0), inp(c, 1), c.node.inputs[2] as F | null, gOf(c)];
    const [tA, tB] = [intAttr(c.node, "transA", 0) === 1, intAttr(c.node, "transB", 0) === 1];
    const [alpha, beta] = [floatAttr(c.node, "alpha", 1), floatAttr(c.node, "beta", 1)];
    // With A' = op(A), B' = op(B): dA' = g B'^T, dB' = A'^T g; transposed back where op() transposed.
    const ga = () => (tA ? L.gemm(b, g, null, { transA: tB, transB: true, alpha }) : L.gemm(g, b, null, { transB: !tB, alpha }));
    const gb = () => (tB ? L.gemm(g, a, null, { transA: true, transB: tA, alpha }) : L.gemm(a, g, null, { transA: !tA, alpha }));
    return [when(c.need[0], ga), when(c.need[1], gb), cc && when(c.need[2], () => unbroadcast(beta === 1 ? g : E.mul(g, beta), cc))];
  },
  Softmax: (c) => {
    const [y, g, axis] = [out(c), gOf(c), intAttr(c.node, "axis", -1)];
    return [E.mul(y, E.sub(g, L.reduceSum(E.mul(g, y), [axis], true)))];
  },
  LogSoftmax: (c) => {
    const [y, g, axis] = [out(c), gOf(c), intAttr(c.node, "axis", -1)];
    const sparse = scatteredIntoZeros(g, axis);
    if (sparse) {
      // g is zero but for `updates` scattered along `axis` (the backward of picking token log-probs), so
      // sum(g) = sum(updates) and g - softmax * sum(g) is one scatter-add into -softmax * sum(updates):
      // three passes over [N, V] instead of six, and no zero tensor of that size.
      const base = E.mul(E.exp(y), E.neg(L.reduceSum(sparse.updates, [axis], true)));
      return [Y.scatterElements(base, sparse.indices, sparse.updates, axis, "add")];
    }
    return [E.sub(g, E.mul(E.exp(y), L.reduceSum(g, [axis], true)))];
  },
  ReduceSum: (c) => [expandReduced(c, gOf(c)), null],
  ReduceMean: (c) => [E.div(expandReduced(c, gOf(c)), reducedCount(c, gOf(c).dtype)), null],
  ReduceMax: (c) => {
    const x = inp(c, 0);
    const hit = E.cast(E.equal(x, expandReduced(c, out(c))), x.dtype);
    const ties = expandReduced(c, L.reduceSum(hit, constInts(x.graph, c.node.inputs[1], "reduction axes"), intAttr(c.node, "keepdims", 1) === 1));
    return [E.div(E.mul(hit, expandReduced(c, gOf(c))), ties), null];
  },
  // d/dx log sum exp(x) = softmax(x) = exp(x - out), the output broadcast back over the reduced axes.
  ReduceLogSumExp: (c) => [E.mul(expandReduced(c, gOf(c)), E.exp(E.sub(inp(c, 0), expandReduced(c, out(c))))), null],
  ReduceProd: integerOnly,
  Reshape: (c) => [Y.reshapeLike(gOf(c), inp(c, 0)), null],
  Transpose: (c) => {
    const perm = (c.node.attrs.perm?.value ?? []) as number[];
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [Y.transpose(gOf(c), inv)];
  },
  Slice: (c) => {
    const [x, g] = [inp(c, 0), gOf(c)];
    const steps = c.node.inputs[4] ? constInts(x.graph, c.node.inputs[4], "Slice steps") : [];
    if (steps.some((s) => s !== 1)) throw new GraphError("Slice: gradient supports step 1 only");
    const [starts, ends, axes] = [1, 2, 3].map((i) => constInts(x.graph, c.node.inputs[i], "Slice starts/ends/axes"));
    return [Y.pad(g, slicePads(x, starts, ends, axes), x.shape), null, null, null, null];
  },
  Concat: (c) => {
    const axis = intAttr(c.node, "axis", 0);
    const xs = c.node.inputs as F[];
    const sizes = xs.map((x) => x.shape[axis]);
    const g = gOf(c);
    const parts = sizes.every((s) => typeof s === "number")
      ? Y.split(g, axis, sizes)
      : splitRuntime(g, axis, xs);
    return parts.map((p, i) => (c.need[i] ? p : null));
  },
  Split: (c) => {
    const axis = intAttr(c.node, "axis", 0);
    const parts = c.node.outputs.map((o, i) => c.gy[i] ?? Y.zerosLike(o as F));
    return [Y.concat(parts, axis), null];
  },
  Expand: (c) => [unbroadcast(gOf(c), inp(c, 0)), null],
  Unsqueeze: (c) => [Y.squeeze(gOf(c), constInts(inp(c, 0).graph, c.node.inputs[1], "Unsqueeze axes")), null],
  Squeeze: (c) => [Y.unsqueeze(gOf(c), constInts(inp(c, 0).graph, c.node.inputs[1], "Squeeze axes")), null],
  Pad: (c) => {
    const x = inp(c, 0);
    const pads = constInts(x.graph, c.node.inputs[1], "Pad pads");
    const axes = x.shape.map((_, i) => i);
    const starts = axes.map((i) => pads[i]);
    const ends = axes.map((i) => (pads[i + x.rank] > 0 ? -pads[i + x.rank] : 2 ** 62));
    return [Y.slice(gOf(c), starts, ends, axes), null];
  },
  Gather: (c) => {
    const [data, idx, g] = [inp(c, 0), c.node.inputs[1] as Value<"int64">, gOf(c)];
    if (intAttr(c.node, "axis", 0) !== 0) throw new GraphError("Gather: gradient is implemented for axis 0 (embedding lookups) only");
    return [Y.scatterND(Y.zerosLike(data), Y.unsqueeze(idx, [idx.rank]), g, "add"), null];
  },
  GatherElements: (c) => {
    const [data, idx] = [inp(c, 0), c.node.inputs[1] as Value<"int64">];
    return [Y.scatterElements(Y.zerosLike(data), idx, gOf(c), intAttr(c.node, "axis", 0), "add"), null];
  },
  ScatterElements: (c) => {
    const [idx, g, axis] = [c.node.inputs[1] as Value<"int64">, gOf(c), intAttr(c.node, "axis", 0)];
    const reduction = c.node.attrs.reduction?.value ?? "none";
    if (reduction !== "add") throw new GraphError(`ScatterElements: gradient supports reduction 'add' only, got '${reduction}'`);
    return [when(c.need[0], () => g), null, when(c.need[2], () => Y.gatherElements(g, idx, axis))];
  },
  CumSum: (c) => {
    const axis = constInts(inp(c, 0).graph, c.node.inputs[1], "CumSum axis")[0];
    const o = { exclusive: intAttr(c.node, "exclusive", 0) === 1, reverse: intAttr(c.node, "reverse", 0) !== 1 };
    return [L.cumSum(gOf(c), axis, o), null];
  },
  ScatterND: (c) => {
    throw new GraphError(`ScatterND has no gradient rule: it only appears in backward graphs (input ${c.node.inputs[0]})`);
  },
  Shape: integerOnly,
  Size: integerOnly,
  ConstantOfShape: integerOnly,
  Range: integerOnly,
  Equal: integerOnly,
  Less: integerOnly,
  LessOrEqual: integerOnly,
  Greater: integerOnly,
  GreaterOrEqual: integerOnly,
  And: integerOnly,
  Or: integerOnly,
  Not: integerOnly,
  ArgMax: integerOnly,
} satisfies Record<Op, GradRule>;

function splitRuntime(g: F, axis: number, xs: F[]): F[] {
  const sizes = Y.concat(xs.map((x) => Y.dimOf(x, axis)), 0);
  const outs = xs.map((x) => g.shape.map((d, i) => (i === axis ? x.shape[axis] : d)));
  return g.graph.node("Split", [g, sizes], outs.map((shape) => ({ dtype: g.dtype, shape })), { axis: { kind: "int", value: axis } }) as F[];
}
