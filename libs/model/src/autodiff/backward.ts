// Reverse-mode autodiff over a built graph: walk the nodes that lead to the loss in reverse, apply each op's
// rule from GRAD_RULES, sum the gradients of values used more than once. The backward nodes are appended to
// the same graph, so one ONNX model computes the loss and its gradients.
//
// Activation recompute (Chen et al. 2016, https://arxiv.org/abs/1604.06174): for a span of nodes computed from
// one input (a decoder layer), the backward pass reads a fresh copy of the span's values, recomputed from that
// input when the walk reaches the span, instead of the forward pass's. The forward values then die as soon as
// the forward pass is done with them, and only the span inputs stay alive until the backward pass. What makes
// the copy run late rather than beside the forward pass is a data dependency: its input is x + 0 * (one element
// of every gradient the pass made since the last copy), which onnxruntime cannot compute before the backward
// pass has finished with the span after it (so at most two copies are alive), and which is
// x exactly (the gradients are finite, or the step is refused anyway).
import { type FloatDType, GraphError, isFloat, type Node, type Value } from "../graph/graph.js";
import * as E from "../graph/ops-elementwise.js";
import * as Y from "../graph/ops-layout.js";
import { compatibleDim } from "../graph/shape.js";
import { GRAD_RULES, scatterAddIntoZeros } from "./rules.js";

type F = Value<FloatDType>;

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (graph inputs or any float values), in order.
 * A value the loss does not depend on gets zeros.
 */
/** Nodes [start, end) of the graph that are computed from `input` (and from values made before `start`). */
export interface RecomputeSpan {
  start: number;
  end: number;
  input: Value;
}

export interface BackwardOptions {
  /** Spans whose values the backward pass recomputes instead of keeping (disjoint). */
  recompute?: readonly RecomputeSpan[];
}

export function backward(loss: Value, wrt: readonly Value[], o: BackwardOptions = {}): F[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphError(`backward: loss must be float, got ${loss}`);
  if (!loss.shape.every((d) => d === 1)) throw new GraphError(`backward: loss must be a scalar (or all dims 1), got ${loss}`);
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphError(`backward: ${w} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new GraphError(`backward: cannot differentiate with respect to ${w} (not float)`);
  }

  // Values that depend on some `wrt` through float values: only these carry gradients.
  const live = new Set(wrt.map((w) => w.name));
  const end = g.nodes.findIndex((n) => n.outputs.some((o) => o.name === loss.name));
  const nodes = g.nodes.slice(0, end + 1);
  for (const n of nodes) {
    if (n.inputs.some((v) => v && live.has(v.name))) for (const o of n.outputs) if (isFloat(o.dtype)) live.add(o.name);
  }

  const grads = new Map<string, F>();
  if (live.has(loss.name)) {
    const one = loss.rank === 0 ? g.scalar(loss.dtype, 1) : g.constant({ dtype: loss.dtype, shape: [...loss.shape], data: loss.dtype === "float32" ? Float32Array.of(1) : Float64Array.of(1) } as never, "seed");
    grads.set(loss.name, one as F);
  }
  const spans = checkSpans(o.recompute ?? [], nodes.length);
  const copies = new Map<RecomputeSpan, Node[]>();
  // Gradients made since the last copy: the next copy waits for all of them, so the span after it has finished
  // its backward pass (weight gradients included) and freed its copy's values before the next copy is made.
  let since: F[] = [];
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    const gy = node.outputs.map((o) => grads.get(o.name) ?? null);
    if (gy.every((x) => x === null)) continue;
    const need = node.inputs.map((v) => v !== null && live.has(v.name));
    if (!need.some(Boolean)) continue;
    const span = spans.find((s) => k >= s.start && k < s.end);
    let seen = node;
    if (span) {
      if (!copies.has(span)) {
        copies.set(span, recomputeSpan(nodes, span, since.length ? since : [gy.find((x) => x !== null) as F]));
        since = [];
      }
      seen = copies.get(span)![k - span.start];
    }
    const gx = GRAD_RULES[node.op]({ node: seen, gy, need });
    node.inputs.forEach((x, i) => {
      const gi = gx[i];
      if (!x || !need[i] || !gi) return;
      checkGradShape(node.op, x, gi);
      const prev = grads.get(x.name);
      const sum = prev ? accumulate(prev, gi as F) : (gi as F);
      grads.set(x.name, sum);
      since.push(gi as F);
    });
  }
  return wrt.map((w) => grads.get(w.name) ?? Y.zerosLike(w as F));
}

/**
 * a + b. When one of them is a scatter-add into zeros (an embedding lookup's gradient: a few rows of a [V, D]
 * matrix), the other is scattered into instead: no zero-filled [V, D] beside the sum (a tied embedding's
 * gradient would otherwise hold three of them at once).
 */
function accumulate(a: F, b: F): F {
  for (const [dense, sparse] of [[a, b], [b, a]]) {
    const n = scatterAddIntoZeros(sparse, "ScatterND");
    if (n && dense.rank === sparse.rank && dense.shape.every((d, i) => compatibleDim(d, sparse.shape[i]))) {
      return Y.scatterND(dense, n.inputs[1] as Value<"int64">, n.inputs[2] as F, "add");
    }
  }
  return E.add(a, b);
}

function checkSpans(spans: readonly RecomputeSpan[], n: number): RecomputeSpan[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  sorted.forEach((s, i) => {
    if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && s.start >= 0 && s.start < s.end && s.end <= n)) {
      throw new GraphError(`backward: recompute span [${s.start}, ${s.end}) is not within the ${n} nodes before the loss`);
    }
    if (i > 0 && s.start < sorted[i - 1].end) throw new GraphError(`backward: recompute spans [${sorted[i - 1].start}, ${sorted[i - 1].end}) and [${s.start}, ${s.end}) overlap`);
  });
  return sorted;
}

/** One element of `v` as a scalar of `dtype`: a value that exists only once `v` does. */
function elementOf(v: F, dtype: FloatDType): F {
  const one = v.rank === 0 ? v : Y.reshape(Y.slice(v, v.shape.map(() => 0), v.shape.map(() => 1), v.shape.map((_, i) => i)), []);
  return one.dtype === dtype ? one : E.cast(one, dtype);
}

/**
 * A copy of the span's nodes computed from `input + 0 * (an element of each of `after`)`: the same values,
 * produced only once every gradient in `after` exists. Values made outside the span (parameters, masks, RoPE
 * tables) are shared.
 */
function recomputeSpan(nodes: readonly Node[], span: RecomputeSpan, after: readonly F[]): Node[] {
  const g = span.input.graph;
  const x = span.input as F;
  const all = after.map((v) => elementOf(v, x.dtype)).reduce((a, b) => E.add(a, b));
  const wait = E.add(x, E.mul(all, 0)); // x, once every gradient in `after` is computed
  const copyOf = new Map<string, Value>([[x.name, wait]]);
  return nodes.slice(span.start, span.end).map((n) => {
    const inputs = n.inputs.map((v) => (v ? copyOf.get(v.name) ?? v : null));
    const outputs = g.node(n.op, inputs, n.outputs.map((v) => ({ dtype: v.dtype, shape: v.shape })), n.attrs, n.domain);
    n.outputs.forEach((v, i) => copyOf.set(v.name, outputs[i]));
    return { ...n, inputs, outputs };
  });
}

function checkGradShape(op: string, x: Value, gx: Value): void {
  const ok = gx.rank === x.rank && gx.dtype === x.dtype && x.shape.every((d, i) => compatibleDim(d, gx.shape[i]));
  if (!ok) throw new GraphError(`${op}: gradient rule returned ${gx} for input ${x} (a bug in the rule)`);
}
