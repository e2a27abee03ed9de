// The graph under construction: typed values, nodes in topological order (a node can only consume values that
// already exist), initializers, inputs and outputs. Ops are free functions in ops*.ts that call `graph.node`.
//
// Shapes are known at build time up to symbolic dims: a dim is a number or a name ("B", "T", "P+T", "B*T").
// Two different names are never assumed to be 1, so broadcasting is decided at build time; a symbolic dim's
// run-time value is found from the graph input that first declared it (`graph.dim`).
import type { DType, Tensor } from "../tensor.js";
import { numel } from "../tensor.js";
import type { Op } from "./op-list.js";

export type Dim = number | string;
export type FloatDType = "float32" | "float64";

export type Attr =
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  | { kind: "string"; value: string }
  | { kind: "ints"; value: readonly number[] }
  | { kind: "floats"; value: readonly number[] }
  | { kind: "tensor"; value: Tensor };

export const attr = {
  int: (value: number): Attr => ({ kind: "int", value }),
  float: (value: number): Attr => ({ kind: "float", value }),
  string: (value: string): Attr => ({ kind: "string", value }),
  ints: (value: readonly number[]): Attr => ({ kind: "ints", value }),
  floats: (value: readonly number[]): Attr => ({ kind: "floats", value }),
  tensor: (value: Tensor): Attr => ({ kind: "tensor", value }),
};

export class Value<D extends DType = DType> {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: D,
    readonly shape: readonly Dim[],
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}[${this.shape.join(",")}]`;
  }
}

export interface Node {
  op: Op;
  domain: string;
  /** `null` marks an omitted optional input. */
  inputs: (Value | null)[];
  outputs: Value[];
  attrs: Record<string, Attr>;
}

export class GraphError extends Error {
  override name = "GraphError";
}

export interface OutputSpec {
  dtype: DType;
  shape: readonly Dim[];
}

export function isFloat(d: DType): d is FloatDType {
  return d === "float32" || d === "float64";
}

export function shapeStr(shape: readonly Dim[]): string {
  return `[${shape.join(",")}]`;
}

/** Product of dims, symbolic where needed ("B*T"). */
export function mulDims(dims: readonly Dim[]): Dim {
  let n = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === "number") n *= d;
    else syms.push(d.includes("+") ? `(${d})` : d);
  }
  if (syms.length === 0) return n;
  return n === 1 ? syms.join("*") : [String(n), ...syms].join("*");
}

/** Sum of dims, symbolic where needed ("P+T"). */
export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `${a}+${b}`;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  readonly initializers = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private readonly dimSources = new Map<string, { value: Value; axis: number }>();
  private readonly dimCache = new Map<string, Value<"int64">>();
  private readonly constCache = new Map<string, Value>();
  private readonly producers = new Map<string, Node>();
  private counter = 0;

  constructor(readonly name = "lspo") {}

  /** A fresh, unique value name. */
  fresh(hint: string): string {
    let n = `${hint}_${this.counter++}`;
    while (this.names.has(n)) n = `${hint}_${this.counter++}`;
    this.names.add(n);
    return n;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new GraphError(`graph '${this.name}': name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  input<D extends DType>(name: string, dtype: D, shape: readonly Dim[]): Value<D> {
    const v = new Value(this, this.claim(name), dtype, [...shape]);
    shape.forEach((d, axis) => {
      if (typeof d === "string" && !this.dimSources.has(d)) this.dimSources.set(d, { value: v, axis });
      if (typeof d === "number" && (!Number.isInteger(d) || d < 0)) {
        throw new GraphError(`input '${name}': dim ${d} must be a non-negative integer or a symbol`);
      }
    });
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor stored as an initializer. */
  constant<D extends DType>(t: Tensor<D>, hint = "const"): Value<D> {
    if (t.data.length !== numel(t.shape)) {
      throw new GraphError(`constant '${hint}': shape ${shapeStr(t.shape)} needs ${numel(t.shape)} values, got ${t.data.length}`);
    }
    const v = new Value(this, this.fresh(hint), t.dtype, [...t.shape]);
    this.initializers.set(v.name, t);
    return v;
  }

  /** A cached scalar constant (shape []). */
  scalar<D extends DType>(dtype: D, x: number): Value<D> {
    return this.cached(`s:${dtype}:${Object.is(x, -0) ? "-0" : x}`, () => {
      const data = dtype === "int64" ? BigInt64Array.of(BigInt(x)) : makeArray(dtype, [x]);
      return this.constant({ dtype, shape: [], data } as Tensor<D>, "scalar");
    });
  }

  /** A cached 1-D int64 constant (axes, shapes, pads, starts/ends). */
  ints(values: readonly number[]): Value<"int64"> {
    return this.cached(`i:${values.join(",")}`, () =>
      this.constant({ dtype: "int64", shape: [values.length], data: BigInt64Array.from(values, (x) => BigInt(x)) }, "ints"),
    );
  }

  private cached<D extends DType>(key: string, make: () => Value<D>): Value<D> {
    let v = this.constCache.get(key);
    if (!v) this.constCache.set(key, (v = make()));
    return v as Value<D>;
  }

  node(op: Op, inputs: (Value | null)[], outs: readonly OutputSpec[], attrs: Record<string, Attr> = {}, domain = ""): Value[] {
    for (const v of inputs) {
      if (v && v.graph !== this) throw new GraphError(`${op}: input '${v.name}' belongs to graph '${v.graph.name}', not '${this.name}'`);
    }
    const outputs = outs.map((o) => new Value(this, this.fresh(op.toLowerCase()), o.dtype, [...o.shape]));
    const node: Node = { op, domain, inputs, outputs, attrs };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o.name, node);
    return outputs;
  }

  /** The node that computes `v` (undefined for inputs and constants). */
  producer(v: Value): Node | undefined {
    return this.producers.get(v.name);
  }

  /** Marks `value` as a graph output called `name` (through an Identity when the names differ). */
  output(name: string, value: Value): void {
    if (this.outputs.some((o) => o.name === name)) throw new GraphError(`graph '${this.name}': output '${name}' declared twice`);
    if (value.name !== name) {
      const out = new Value(this, this.claim(name), value.dtype, value.shape);
      this.nodes.push({ op: "Identity", domain: "", inputs: [value], outputs: [out], attrs: {} });
      value = out;
    }
    this.outputs.push({ name, value });
  }

  /** The run-time value of a dim as an int64 tensor of shape [1]. */
  dim(d: Dim): Value<"int64"> {
    if (typeof d === "number") return this.ints([d]);
    const hit = this.dimCache.get(d);
    if (hit) return hit;
    const v = this.resolveDim(d);
    this.dimCache.set(d, v);
    return v;
  }

  private resolveDim(d: string): Value<"int64"> {
    const src = this.dimSources.get(d);
    if (src) {
      const [v] = this.node("Shape", [src.value], [{ dtype: "int64", shape: [1] }], {
        start: attr.int(src.axis),
        end: attr.int(src.axis + 1),
      });
      return v as Value<"int64">;
    }
    const parts = splitTop(d, "+");
    if (parts.length > 1) return this.fold(parts, "Add");
    const factors = splitTop(d, "*");
    if (factors.length > 1) return this.fold(factors, "Mul");
    if (d.startsWith("(") && d.endsWith(")")) return this.dim(d.slice(1, -1));
    if (/^\d+$/.test(d)) return this.ints([Number(d)]);
    throw new GraphError(`graph '${this.name}': symbolic dim '${d}' comes from no graph input (known: ${[...this.dimSources.keys()].join(", ") || "none"})`);
  }

  private fold(parts: string[], op: "Add" | "Mul"): Value<"int64"> {
    let acc = this.dim(parts[0]);
    for (const p of parts.slice(1)) {
      acc = this.node(op, [acc, this.dim(p)], [{ dtype: "int64", shape: [1] }])[0] as Value<"int64">;
    }
    return acc;
  }

  /** A 1-D int64 tensor holding `dims` at run time (a constant when all are numbers). */
  shapeTensor(dims: readonly Dim[]): Value<"int64"> {
    if (dims.every((d) => typeof d === "number")) return this.ints(dims as number[]);
    const parts = dims.map((d) => this.dim(d));
    const [v] = this.node("Concat", parts, [{ dtype: "int64", shape: [dims.length] }], { axis: attr.int(0) });
    return v as Value<"int64">;
  }
}

function splitTop(s: string, sep: "+" | "*"): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")") depth--;
    else if (s[i] === sep && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

const ARRAY_FROM = {
  float32: (v: ArrayLike<number>) => Float32Array.from(v),
  float64: (v: ArrayLike<number>) => Float64Array.from(v),
  int32: (v: ArrayLike<number>) => Int32Array.from(v),
  bool: (v: ArrayLike<number>) => Uint8Array.from(v),
  int64: (v: ArrayLike<number>) => BigInt64Array.from(Array.from(v), (x) => BigInt(x)),
} satisfies { [K in DType]: (v: ArrayLike<number>) => Tensor<K>["data"] };

export function makeArray<D extends DType>(dtype: D, values: ArrayLike<number>): Tensor<D>["data"] {
  return ARRAY_FROM[dtype](values) as Tensor<D>["data"];
}
