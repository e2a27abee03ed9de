// Layout and indexing ops: reshape, transpose, slice, concat, split, expand, (un)squeeze, pad, gather, scatter,
// and the int64 plumbing (shape, range, constant-of-shape) that symbolic shapes need at run time.
import type { DType } from "../tensor.js";
import { addDims, attr, type Dim, type Graph, GraphError, makeArray, mulDims, shapeStr, Value } from "./graph.js";
import { broadcastShapes, checkDim, compatibleDim, normAxes, normAxis } from "./shape.js";

const INT64_MAX = 2 ** 62; // far past any real dim; ONNX clamps ends to the dim

function atoms(d: Dim): Dim[] {
  if (typeof d === "number") return [d];
  if (d.includes("+") || d.includes("(")) return [d];
  return d.split("*").map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The dim that -1 stands for in a reshape of `from` into `others` (symbols cancel where they can). */
function inferredDim(g: Graph, from: readonly Dim[], others: readonly Dim[]): Dim {
  const pool = from.flatMap(atoms);
  let num = 1;
  for (const a of pool) if (typeof a === "number") num *= a;
  const syms = pool.filter((a): a is string => typeof a === "string");
  let den = 1;
  for (const a of others.flatMap(atoms)) {
    if (typeof a === "number") den *= a;
    else {
      const k = syms.indexOf(a);
      if (k < 0) return g.fresh("reshape_dim");
      syms.splice(k, 1);
    }
  }
  if (num % den !== 0) {
    if (syms.length === 0) throw new GraphError(`Reshape: ${shapeStr(from)} has ${num} elements, not a multiple of ${den}`);
    return g.fresh("reshape_dim");
  }
  return mulDims([num / den, ...syms]);
}

/** ONNX Reshape: 0 copies the input dim, -1 is inferred; symbolic dims are looked up at run time. */
export function reshape<D extends DType>(x: Value<D>, dims: readonly Dim[]): Value<D> {
  const g = x.graph;
  if (dims.filter((d) => d === -1).length > 1) throw new GraphError(`Reshape: at most one -1 in ${shapeStr(dims)}`);
  const known = dims.map((d, i) => {
    if (d === 0) {
      if (i >= x.rank) throw new GraphError(`Reshape: 0 at axis ${i} copies a dim that ${x} lacks`);
      return x.shape[i];
    }
    return d;
  });
  const shape = known.map((d) => (d === -1 ? inferredDim(g, x.shape, known.filter((k) => k !== -1)) : d));
  if (shape.every((d) => typeof d === "number") && x.shape.every((d) => typeof d === "number")) {
    if (mulDims(shape) !== mulDims(x.shape)) throw new GraphError(`Reshape: cannot reshape ${x} into ${shapeStr(dims)}`);
  }
  return g.node("Reshape", [x, g.shapeTensor(dims)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

/** Reshape to the run-time shape of `like` (same number of elements). */
export function reshapeLike<D extends DType>(x: Value<D>, like: Value): Value<D> {
  return x.graph.node("Reshape", [x, shapeOf(like)], [{ dtype: x.dtype, shape: like.shape }])[0] as Value<D>;
}

export function transpose<D extends DType>(x: Value<D>, perm: readonly number[]): Value<D> {
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.rank || sorted.some((p, i) => p !== i)) {
    throw new GraphError(`Transpose: perm [${perm.join(",")}] is not a permutation of ${x.rank} axes of ${x}`);
  }
  const shape = perm.map((p) => x.shape[p]);
  return x.graph.node("Transpose", [x], [{ dtype: x.dtype, shape }], { perm: attr.ints(perm) })[0] as Value<D>;
}

function slicedDim(g: Graph, d: Dim, start: number, end: number): Dim {
  const e = Math.min(end, INT64_MAX);
  if (typeof d === "number") {
    const clamp = (v: number) => Math.max(0, Math.min(d, v < 0 ? v + d : v));
    return Math.max(0, clamp(e) - clamp(start));
  }
  if (start >= 0 && e >= INT64_MAX) return start === 0 ? d : g.fresh(`${d}_sliced`);
  if ((start < 0 && e >= INT64_MAX) || (start >= 0 && e >= 0 && e < INT64_MAX) || (start < 0 && e < 0)) {
    return Math.max(0, (e >= INT64_MAX ? 0 : e) - start); // assumes the dim is long enough
  }
  return g.fresh(`${d}_sliced`);
}

/** x[starts:ends] along `axes` (step 1). Ends past the dim are clamped, as in ONNX. */
export function slice<D extends DType>(x: Value<D>, starts: readonly number[], ends: readonly number[], axes: readonly number[]): Value<D> {
  if (starts.length !== axes.length || ends.length !== axes.length) throw new GraphError(`Slice: starts, ends and axes need equal lengths`);
  const ax = axes.map((a) => normAxis("Slice", a, x.rank));
  const g = x.graph;
  const shape = [...x.shape];
  ax.forEach((a, i) => (shape[a] = slicedDim(g, x.shape[a], starts[i], ends[i])));
  const clampEnds = ends.map((e) => Math.min(e, INT64_MAX));
  return g.node("Slice", [x, g.ints(starts), g.ints(clampEnds), g.ints(ax)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

export function concat<D extends DType>(xs: readonly Value<D>[], axis: number): Value<D> {
  if (xs.length === 0) throw new GraphError("Concat: needs at least one input");
  const rank = xs[0].rank;
  const a = normAxis("Concat", axis, rank);
  for (const x of xs) {
    if (x.rank !== rank || x.dtype !== xs[0].dtype) throw new GraphError(`Concat: ${x} does not match ${xs[0]}`);
    x.shape.forEach((d, i) => i !== a && checkDim("Concat", `axis ${i} of ${x}`, d, xs[0].shape[i]));
  }
  const shape = [...xs[0].shape];
  shape[a] = xs.slice(1).reduce<Dim>((acc, x) => addDims(acc, x.shape[a]), xs[0].shape[a]);
  return xs[0].graph.node("Concat", [...xs], [{ dtype: xs[0].dtype, shape }], { axis: attr.int(a) })[0] as Value<D>;
}

/** Splits along `axis` into pieces of the given sizes (symbolic sizes are computed at run time). */
export function split<D extends DType>(x: Value<D>, axis: number, sizes: readonly Dim[]): Value<D>[] {
  const a = normAxis("Split", axis, x.rank);
  const outs = sizes.map((s) => x.shape.map((d, i) => (i === a ? s : d)));
  return x.graph.node("Split", [x, x.graph.shapeTensor(sizes)], outs.map((shape) => ({ dtype: x.dtype, shape })), { axis: attr.int(a) }) as Value<D>[];
}

/** Broadcasts `x` to `dims` (numpy rules). */
export function expand<D extends DType>(x: Value<D>, dims: readonly Dim[]): Value<D> {
  const shape = broadcastShapes("Expand", x.shape, dims);
  return x.graph.node("Expand", [x, x.graph.shapeTensor(dims)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

/** Broadcasts `x` to the run-time shape of `like`. */
export function expandLike<D extends DType>(x: Value<D>, like: Value): Value<D> {
  const shape = broadcastShapes("Expand", x.shape, like.shape);
  return x.graph.node("Expand", [x, shapeOf(like)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

/** The run-time length of `x` along `axis`, as int64 [1]. */
export function dimOf(x: Value, axis: number): Value<"int64"> {
  const a = normAxis("Shape", axis, x.rank);
  if (typeof x.shape[a] === "number") return x.graph.ints([x.shape[a] as number]);
  return x.graph.node("Shape", [x], [{ dtype: "int64", shape: [1] }], { start: attr.int(a), end: attr.int(a + 1) })[0] as Value<"int64">;
}

export function unsqueeze<D extends DType>(x: Value<D>, axes: readonly number[]): Value<D> {
  const ax = normAxes("Unsqueeze", axes, x.rank + axes.length);
  const shape: Dim[] = [];
  let k = 0;
  for (let i = 0; i < x.rank + ax.length; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
  return x.graph.node("Unsqueeze", [x, x.graph.ints(ax)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

export function squeeze<D extends DType>(x: Value<D>, axes: readonly number[]): Value<D> {
  const ax = normAxes("Squeeze", axes, x.rank);
  for (const a of ax) if (!compatibleDim(x.shape[a], 1)) throw new GraphError(`Squeeze: axis ${a} of ${x} is not 1`);
  const shape = x.shape.filter((_, i) => !ax.includes(i));
  return x.graph.node("Squeeze", [x, x.graph.ints(ax)], [{ dtype: x.dtype, shape }])[0] as Value<D>;
}

/**
 * Zero padding: `pads` = [begin_0, ..., begin_n, end_0, ..., end_n] (ONNX order), as dims or as a run-time
 * int64 tensor (then `outShape` gives the build-time result shape).
 */
export function pad<D extends DType>(x: Value<D>, pads: readonly Dim[] | Value<"int64">, outShape?: readonly Dim[]): Value<D> {
  let shape: readonly Dim[];
  let padsV: Value<"int64">;
  if (pads instanceof Value) {
    if (!outShape) throw new GraphError("Pad: give the result shape when the pads are a run-time tensor");
    [shape, padsV] = [outShape, pads];
  } else {
    if (pads.length !== 2 * x.rank) throw new GraphError(`Pad: ${x} needs ${2 * x.rank} pads, got ${pads.length}`);
    shape = x.shape.map((d, i) => addDims(addDims(d, pads[i]), pads[i + x.rank]));
    padsV = x.graph.shapeTensor(pads);
  }
  return x.graph.node("Pad", [x, padsV], [{ dtype: x.dtype, shape }], { mode: attr.string("constant") })[0] as Value<D>;
}

/** data.take(indices, axis): [..a, N, ..b] with indices [...I] -> [..a, ...I, ..b]. */
export function gather<D extends DType>(data: Value<D>, indices: Value<"int64">, axis = 0): Value<D> {
  const a = normAxis("Gather", axis, data.rank);
  if (indices.dtype !== "int64") throw new GraphError(`Gather: indices must be int64, got ${indices}`);
  const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
  return data.graph.node("Gather", [data, indices], [{ dtype: data.dtype, shape }], { axis: attr.int(a) })[0] as Value<D>;
}

/** out[i][j][k] = data[i][indices[i][j][k]][k] for axis 1 (and likewise for other axes); out has indices' shape. */
export function gatherElements<D extends DType>(data: Value<D>, indices: Value<"int64">, axis: number): Value<D> {
  const a = normAxis("GatherElements", axis, data.rank);
  if (indices.rank !== data.rank) throw new GraphError(`GatherElements: indices ${indices} must have the rank of ${data}`);
  indices.shape.forEach((d, i) => i !== a && checkDim("GatherElements", `axis ${i} of indices`, d, data.shape[i]));
  return data.graph.node("GatherElements", [data, indices], [{ dtype: data.dtype, shape: indices.shape }], { axis: attr.int(a) })[0] as Value<D>;
}

export type ScatterReduction = "none" | "add";

export function scatterND<D extends DType>(data: Value<D>, indices: Value<"int64">, updates: Value<D>, reduction: ScatterReduction): Value<D> {
  return data.graph.node("ScatterND", [data, indices, updates], [{ dtype: data.dtype, shape: data.shape }], { reduction: attr.string(reduction) })[0] as Value<D>;
}

export function scatterElements<D extends DType>(data: Value<D>, indices: Value<"int64">, updates: Value<D>, axis: number, reduction: ScatterReduction): Value<D> {
  const a = normAxis("ScatterElements", axis, data.rank);
  const attrs = { axis: attr.int(a), reduction: attr.string(reduction) };
  return data.graph.node("ScatterElements", [data, indices, updates], [{ dtype: data.dtype, shape: data.shape }], attrs)[0] as Value<D>;
}

/** The run-time shape of `x` as int64 [rank]. */
export function shapeOf(x: Value): Value<"int64"> {
  return x.graph.node("Shape", [x], [{ dtype: "int64", shape: [x.rank] }])[0] as Value<"int64">;
}

/** Number of elements of `x` as an int64 scalar. */
export function sizeOf(x: Value): Value<"int64"> {
  return x.graph.node("Size", [x], [{ dtype: "int64", shape: [] }])[0] as Value<"int64">;
}

/** A tensor of the given run-time shape filled with `fill`. */
export function constantOfShape<D extends DType>(g: Graph, shape: Value<"int64"> | readonly Dim[], dtype: D, fill: number, dims?: readonly Dim[]): Value<D> {
  const shapeV = shape instanceof Value ? shape : g.shapeTensor(shape);
  const outShape = shape instanceof Value ? dims : shape;
  if (!outShape) throw new GraphError("ConstantOfShape: give the build-time dims when the shape is a run-time value");
  const data = makeArray(dtype, [fill]);
  return g.node("ConstantOfShape", [shapeV], [{ dtype, shape: outShape }], { value: attr.tensor({ dtype, shape: [1], data } as never) })[0] as Value<D>;
}

/** Zeros shaped like `x` (resolved at run time). */
export function zerosLike<D extends DType>(x: Value<D>): Value<D> {
  return constantOfShape(x.graph, shapeOf(x), x.dtype, 0, x.shape);
}

/** [start, start+delta, ...) up to `limit`; scalars of one dtype; `len` is the build-time length. */
export function range<D extends DType>(start: Value<D>, limit: Value<D>, delta: Value<D>, len: Dim): Value<D> {
  for (const v of [start, limit, delta]) if (v.rank !== 0) throw new GraphError(`Range: ${v} must be a scalar`);
  return start.graph.node("Range", [start, limit, delta], [{ dtype: start.dtype, shape: [len] }])[0] as Value<D>;
}
