// Reverse-mode autodiff over a built graph: walk the nodes that lead to the loss in reverse, apply each op's
// rule from GRAD_RULES, sum the gradients of values used more than once. The backward nodes are appended to
// the same graph, so one ONNX model computes the loss and its gradients.
import { type FloatDType, GraphError, isFloat, type Value } from "../graph/graph.js";
import * as E from "../graph/ops-elementwise.js";
import * as Y from "../graph/ops-layout.js";
import { compatibleDim } from "../graph/shape.js";
import { GRAD_RULES } from "./rules.js";

type F = Value<FloatDType>;

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (graph inputs or any float values), in order.
 * A value the loss does not depend on gets zeros.
 */
export function backward(loss: Value, wrt: readonly Value[]): F[] {
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
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k];
    const gy = node.outputs.map((o) => grads.get(o.name) ?? null);
    if (gy.every((x) => x === null)) continue;
    const need = node.inputs.map((v) => v !== null && live.has(v.name));
    if (!need.some(Boolean)) continue;
    const gx = GRAD_RULES[node.op]({ node, gy, need });
    node.inputs.forEach((x, i) => {
      const gi = gx[i];
      if (!x || !need[i] || !gi) return;
      checkGradShape(node.op, x, gi);
      const prev = grads.get(x.name);
      grads.set(x.name, prev ? E.add(prev, gi as F) : (gi as F));
    });
  }
  return wrt.map((w) => grads.get(w.name) ?? Y.zerosLike(w as F));
}

function checkGradShape(op: string, x: Value, gx: Value): void {
  const ok = gx.rank === x.rank && gx.dtype === x.dtype && x.shape.every((d, i) => compatibleDim(d, gx.shape[i]));
  if (!ok) throw new GraphError(`${op}: gradient rule returned ${gx} for input ${x} (a bug in the rule)`);
}
