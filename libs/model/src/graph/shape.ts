// Build-time shape arithmetic: numpy broadcasting, axis normalisation, dim equality.
import { type Dim, GraphError, shapeStr } from "./graph.js";

/** Equal when both are the same number or the same symbol; symbols are never assumed equal to numbers. */
export function sameDim(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Two dims that may describe the same axis: equal, or at least one symbolic (unknown until run time). */
export function compatibleDim(a: Dim, b: Dim): boolean {
  return a === b || typeof a === "string" || typeof b === "string";
}

/**
 * Numpy broadcasting of two shapes, decided at build time. A dim of literal 1 stretches; two different
 * symbols (or a symbol and a number other than 1) are taken to be equal, never 1, and the result keeps the
 * numeric one. Incompatible numbers throw.
 */
export function broadcastShapes(op: string, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else if (typeof x === "number" && typeof y === "number") {
      throw new GraphError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} do not broadcast (axis ${i}: ${x} vs ${y})`);
    } else out.push(typeof x === "number" ? x : y);
  }
  return out;
}

/** Axes of `out` along which a value of shape `inp` was stretched by broadcasting (in `out`'s numbering). */
export function broadcastAxes(inp: readonly Dim[], out: readonly Dim[]): { leading: number; stretched: number[] } {
  const leading = out.length - inp.length;
  const stretched: number[] = [];
  inp.forEach((d, i) => {
    if (d === 1 && out[leading + i] !== 1) stretched.push(leading + i);
  });
  return { leading, stretched };
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new GraphError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function normAxes(op: string, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(op, a, rank));
  if (new Set(out).size !== out.length) throw new GraphError(`${op}: repeated axis in [${axes.join(",")}]`);
  return out.sort((x, y) => x - y);
}

export function checkDim(op: string, what: string, got: Dim, want: Dim): void {
  if (!compatibleDim(got, want)) throw new GraphError(`${op}: ${what} is ${got}, expected ${want}`);
}
