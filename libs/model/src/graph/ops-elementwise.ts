// Elementwise ops. Binary ops broadcast with numpy rules (decided at build time) and accept a plain number
// for one operand, which becomes a scalar constant of the other operand's dtype.
import type { DType } from "../tensor.js";
import { attr, type FloatDType, Graph, GraphError, isFloat, Value } from "./graph.js";
import type { Op } from "./op-list.js";
import { broadcastShapes } from "./shape.js";

export type Operand<D extends DType> = Value<D> | number;

function lift<D extends DType>(op: string, a: Operand<D>, b: Operand<D>): [Value<D>, Value<D>, Graph] {
  if (typeof a === "number" && typeof b === "number") throw new GraphError(`${op}: at least one operand must be a graph value`);
  const g = (typeof a === "number" ? (b as Value<D>) : a).graph;
  const dtype = (typeof a === "number" ? (b as Value<D>) : a).dtype;
  const va = typeof a === "number" ? g.scalar(dtype, a) : a;
  const vb = typeof b === "number" ? g.scalar(dtype, b) : b;
  if (va.dtype !== vb.dtype) throw new GraphError(`${op}: dtypes differ (${va.dtype} vs ${vb.dtype}); Cast one first`);
  return [va, vb, g];
}

function binary<D extends DType>(op: Op, a: Operand<D>, b: Operand<D>): Value<D> {
  const [va, vb, g] = lift(op, a, b);
  const shape = broadcastShapes(op, va.shape, vb.shape);
  return g.node(op, [va, vb], [{ dtype: va.dtype, shape }])[0] as Value<D>;
}

function compare<D extends DType>(op: Op, a: Operand<D>, b: Operand<D>): Value<"bool"> {
  const [va, vb, g] = lift(op, a, b);
  const shape = broadcastShapes(op, va.shape, vb.shape);
  return g.node(op, [va, vb], [{ dtype: "bool", shape }])[0] as Value<"bool">;
}

function unary<D extends DType>(op: Op, x: Value<D>, floatOnly = true): Value<D> {
  if (floatOnly && !isFloat(x.dtype)) throw new GraphError(`${op}: needs a float input, got ${x}`);
  return x.graph.node(op, [x], [{ dtype: x.dtype, shape: x.shape }])[0] as Value<D>;
}

export const add = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Add", a, b);
export const sub = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Sub", a, b);
export const mul = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Mul", a, b);
export const div = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Div", a, b);
export const pow = <D extends FloatDType>(a: Operand<D>, b: Operand<D>) => binary("Pow", a, b);
/** Elementwise minimum of two tensors (ONNX Min, restricted to two inputs). */
export const minimum = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Min", a, b);
export const maximum = <D extends DType>(a: Operand<D>, b: Operand<D>) => binary("Max", a, b);

export const equal = <D extends DType>(a: Operand<D>, b: Operand<D>) => compare("Equal", a, b);
export const less = <D extends DType>(a: Operand<D>, b: Operand<D>) => compare("Less", a, b);
export const lessOrEqual = <D extends DType>(a: Operand<D>, b: Operand<D>) => compare("LessOrEqual", a, b);
export const greater = <D extends DType>(a: Operand<D>, b: Operand<D>) => compare("Greater", a, b);
export const greaterOrEqual = <D extends DType>(a: Operand<D>, b: Operand<D>) => compare("GreaterOrEqual", a, b);
export const and = (a: Value<"bool">, b: Value<"bool">) => compare("And", a, b);
export const or = (a: Value<"bool">, b: Value<"bool">) => compare("Or", a, b);
export function not(x: Value<"bool">): Value<"bool"> {
  return unary("Not", x, false);
}

export const neg = <D extends DType>(x: Value<D>) => unary("Neg", x, false);
export const exp = <D extends DType>(x: Value<D>) => unary("Exp", x);
export const log = <D extends DType>(x: Value<D>) => unary("Log", x);
export const sqrt = <D extends DType>(x: Value<D>) => unary("Sqrt", x);
export const reciprocal = <D extends DType>(x: Value<D>) => unary("Reciprocal", x);
export const sigmoid = <D extends DType>(x: Value<D>) => unary("Sigmoid", x);
export const tanh = <D extends DType>(x: Value<D>) => unary("Tanh", x);
export const cos = <D extends DType>(x: Value<D>) => unary("Cos", x);
export const sin = <D extends DType>(x: Value<D>) => unary("Sin", x);
export const identity = <D extends DType>(x: Value<D>) => unary("Identity", x, false);

/** SiLU(x) = x * sigmoid(x), composed so that it needs no gradient rule of its own. */
export function silu<D extends FloatDType>(x: Value<D>): Value<D> {
  return mul(x, sigmoid(x));
}

/** `cond ? a : b`, broadcasting all three. */
export function where<D extends DType>(cond: Value<"bool">, a: Operand<D>, b: Operand<D>): Value<D> {
  if (cond.dtype !== "bool") throw new GraphError(`Where: condition must be bool, got ${cond}`);
  const [va, vb, g] = lift("Where", a, b);
  const shape = broadcastShapes("Where", broadcastShapes("Where", cond.shape, va.shape), vb.shape);
  return g.node("Where", [cond, va, vb], [{ dtype: va.dtype, shape }])[0] as Value<D>;
}

/** Clamp to [lo, hi] (either may be omitted with `null`); the bounds are scalars. */
export function clip<D extends FloatDType>(x: Value<D>, lo: Operand<D> | null, hi: Operand<D> | null): Value<D> {
  const g = x.graph;
  const bound = (b: Operand<D> | null, which: string) => {
    if (b === null) return null;
    const v = typeof b === "number" ? g.scalar(x.dtype, b) : b;
    if (v.rank !== 0) throw new GraphError(`Clip: ${which} bound must be a scalar, got ${v}`);
    if (v.dtype !== x.dtype) throw new GraphError(`Clip: ${which} bound dtype ${v.dtype} differs from ${x.dtype}`);
    return v;
  };
  return g.node("Clip", [x, bound(lo, "lower"), bound(hi, "upper")], [{ dtype: x.dtype, shape: x.shape }])[0] as Value<D>;
}

const ONNX_DTYPE_CODE = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 } satisfies Record<DType, number>;

export function onnxDType(d: DType): number {
  return ONNX_DTYPE_CODE[d];
}

export function cast<To extends DType>(x: Value, to: To): Value<To> {
  if (x.dtype === (to as DType)) return x as unknown as Value<To>;
  return x.graph.node("Cast", [x], [{ dtype: to, shape: x.shape }], { to: attr.int(onnxDType(to)) })[0] as Value<To>;
}
