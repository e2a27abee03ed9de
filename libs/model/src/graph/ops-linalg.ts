// Matrix products, softmax-family and reductions (opset 18: reduction axes are an int64 input).
import type { DType } from "../tensor.js";
import { attr, type Dim, type FloatDType, GraphError, isFloat, Value } from "./graph.js";
import type { Op } from "./op-list.js";
import { broadcastShapes, checkDim, normAxes, normAxis } from "./shape.js";

/** Numpy matmul for rank >= 2: [..., M, K] @ [..., K, N] -> [..., M, N], batch dims broadcast. */
export function matmul<D extends FloatDType>(a: Value<D>, b: Value<D>): Value<D> {
  if (a.rank < 2 || b.rank < 2) throw new GraphError(`MatMul: both inputs need rank >= 2, got ${a} and ${b}`);
  if (a.dtype !== b.dtype) throw new GraphError(`MatMul: dtypes differ (${a} vs ${b})`);
  checkDim("MatMul", `inner dim of ${a} @ ${b}`, a.shape[a.rank - 1], b.shape[b.rank - 2]);
  const batch = broadcastShapes("MatMul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]];
  return a.graph.node("MatMul", [a, b], [{ dtype: a.dtype, shape }])[0] as Value<D>;
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** Y = alpha * op(A) @ op(B) + beta * C, all 2-D; C broadcasts to [M, N]. */
export function gemm<D extends FloatDType>(a: Value<D>, b: Value<D>, c: Value<D> | null = null, o: GemmOptions = {}): Value<D> {
  if (a.rank !== 2 || b.rank !== 2) throw new GraphError(`Gemm: A and B must be 2-D, got ${a} and ${b}`);
  const [m, ka] = o.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = o.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  checkDim("Gemm", `inner dim of op(${a}) @ op(${b})`, ka, kb);
  if (c) {
    const bc = broadcastShapes("Gemm", [m, n], c.shape);
    if (bc.length !== 2 || bc[0] !== m || bc[1] !== n) throw new GraphError(`Gemm: C ${c} must broadcast to [${m},${n}]`);
  }
  const attrs = {
    transA: attr.int(o.transA ? 1 : 0),
    transB: attr.int(o.transB ? 1 : 0),
    alpha: attr.float(o.alpha ?? 1),
    beta: attr.float(o.beta ?? 1),
  };
  return a.graph.node("Gemm", c ? [a, b, c] : [a, b], [{ dtype: a.dtype, shape: [m, n] }], attrs)[0] as Value<D>;
}

function alongAxis<D extends FloatDType>(op: Op, x: Value<D>, axis: number): Value<D> {
  if (!isFloat(x.dtype)) throw new GraphError(`${op}: needs a float input, got ${x}`);
  const a = normAxis(op, axis, x.rank);
  return x.graph.node(op, [x], [{ dtype: x.dtype, shape: x.shape }], { axis: attr.int(a) })[0] as Value<D>;
}

export const softmax = <D extends FloatDType>(x: Value<D>, axis = -1) => alongAxis("Softmax", x, axis);
export const logSoftmax = <D extends FloatDType>(x: Value<D>, axis = -1) => alongAxis("LogSoftmax", x, axis);

export function reducedShape(shape: readonly Dim[], axes: readonly number[], keepdims: boolean): Dim[] {
  return keepdims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function reduce<D extends DType>(op: Op, x: Value<D>, axes: readonly number[], keepdims: boolean): Value<D> {
  if (axes.length === 0) throw new GraphError(`${op}: give the axes to reduce (empty axes would mean all or none)`);
  const ax = normAxes(op, axes, x.rank);
  const shape = reducedShape(x.shape, ax, keepdims);
  return x.graph.node(op, [x, x.graph.ints(ax)], [{ dtype: x.dtype, shape }], { keepdims: attr.int(keepdims ? 1 : 0) })[0] as Value<D>;
}

export const reduceSum = <D extends DType>(x: Value<D>, axes: readonly number[], keepdims = false) => reduce("ReduceSum", x, axes, keepdims);
export const reduceMean = <D extends DType>(x: Value<D>, axes: readonly number[], keepdims = false) => reduce("ReduceMean", x, axes, keepdims);
export const reduceMax = <D extends DType>(x: Value<D>, axes: readonly number[], keepdims = false) => reduce("ReduceMax", x, axes, keepdims);
/** log(sum(exp(x))) over `axes`, computed stably by onnxruntime (the max is taken out first). */
export const reduceLogSumExp = <D extends FloatDType>(x: Value<D>, axes: readonly number[], keepdims = false) => reduce("ReduceLogSumExp", x, axes, keepdims);
export const reduceProd = <D extends DType>(x: Value<D>, axes: readonly number[], keepdims = false) => reduce("ReduceProd", x, axes, keepdims);

/** Sum of every element, shape []. */
export function sumAll<D extends DType>(x: Value<D>): Value<D> {
  return x.rank === 0 ? x : reduceSum(x, x.shape.map((_, i) => i));
}

export function argMax(x: Value, axis: number, keepdims = false): Value<"int64"> {
  const a = normAxis("ArgMax", axis, x.rank);
  const shape = reducedShape(x.shape, [a], keepdims);
  return x.graph.node("ArgMax", [x], [{ dtype: "int64", shape }], { axis: attr.int(a), keepdims: attr.int(keepdims ? 1 : 0) })[0] as Value<"int64">;
}

/** Cumulative sum along `axis`: inclusive, or exclusive; from the end when `reverse`. */
export function cumSum<D extends DType>(x: Value<D>, axis: number, o: { exclusive?: boolean; reverse?: boolean } = {}): Value<D> {
  const a = normAxis("CumSum", axis, x.rank);
  const ax = x.graph.constant({ dtype: "int64", shape: [], data: BigInt64Array.of(BigInt(a)) }, "axis");
  const attrs = { exclusive: attr.int(o.exclusive ? 1 : 0), reverse: attr.int(o.reverse ? 1 : 0) };
  return x.graph.node("CumSum", [x, ax], [{ dtype: x.dtype, shape: x.shape }], attrs)[0] as Value<D>;
}
