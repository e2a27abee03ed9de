// AdamW (Loshchilov & Hutter, https://arxiv.org/abs/1711.05101) with PyTorch's update order:
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// One pass over each Float32Array, arithmetic in float64 (the JS number), results stored as float32. The loop
// is memory-bound (7 arrays of 4 bytes per parameter move per update), about 5 ns per parameter here.
// The bench (bench/model.ts) measures this loop against the same update as an ONNX graph (adamw-graph.ts).
import type { Weights } from "../tensor.js";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Which parameters decay: `matrices` (rank >= 2: linear layers, embeddings; not norms or biases) or `all`. */
  decayOn: "matrices" | "all";
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decayOn: "matrices" };

/** Optimizer state, plain data for checkpoints: `step` updates done, first and second moments by parameter. */
export interface AdamWState {
  step: number;
  m: Weights;
  v: Weights;
}

export class OptimizerError extends Error {
  override name = "OptimizerError";
}

export function checkAdamW(c: AdamWConfig): void {
  for (const k of ["beta1", "beta2"] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) throw new OptimizerError(`adamw.${k} must be in [0, 1), got ${c[k]}`);
  }
  if (!(c.eps > 0)) throw new OptimizerError(`adamw.eps must be > 0, got ${c.eps}`);
  if (!(c.weightDecay >= 0)) throw new OptimizerError(`adamw.weightDecay must be >= 0, got ${c.weightDecay}`);
  if (c.decayOn !== "matrices" && c.decayOn !== "all") throw new OptimizerError(`adamw.decayOn must be 'matrices' or 'all', got '${c.decayOn as string}'`);
}

export function zeroState(weights: Weights): AdamWState {
  const zeros = () => new Map([...weights].map(([k, t]) => [k, { dtype: "float32" as const, shape: [...t.shape], data: new Float32Array(t.data.length) }]));
  return { step: 0, m: zeros(), v: zeros() };
}

/** Checks that a (restored) state fits the weights: same names and sizes, a sane step. */
export function checkState(state: AdamWState, weights: Weights): void {
  if (!Number.isInteger(state.step) || state.step < 0) throw new OptimizerError(`optimizer state step must be an integer >= 0, got ${state.step}`);
  for (const [which, moments] of [["m", state.m], ["v", state.v]] as const) {
    for (const [name, t] of weights) {
      const s = moments.get(name);
      if (!s) throw new OptimizerError(`optimizer state lacks ${which} for '${name}'`);
      if (s.data.length !== t.data.length) throw new OptimizerError(`optimizer state ${which} for '${name}' has ${s.data.length} values, the parameter ${t.data.length}`);
    }
    for (const name of moments.keys()) if (!weights.has(name)) throw new OptimizerError(`optimizer state has ${which} for unknown parameter '${name}'`);
  }
}

export function decays(c: AdamWConfig, t: { shape: readonly number[] }): boolean {
  return c.decayOn === "all" || t.shape.length >= 2;
}

/**
 * One AdamW update of every parameter, in place. `gradScale` multiplies the gradients first (clipping,
 * averaging); `state.step` is advanced.
 */
export function adamwStep(weights: Weights, grads: ReadonlyMap<string, Float32Array>, state: AdamWState, c: AdamWConfig, lr: number, gradScale = 1): void {
  const t = ++state.step;
  const stepSize = lr / (1 - c.beta1 ** t);
  const invBc2Sqrt = 1 / Math.sqrt(1 - c.beta2 ** t); // a multiply per element instead of a divide
  const [b1, b2, c1, c2, eps] = [c.beta1, c.beta2, 1 - c.beta1, 1 - c.beta2, c.eps];
  for (const [name, param] of weights) {
    const g = grads.get(name);
    if (!g) throw new OptimizerError(`no gradient for parameter '${name}'`);
    const p = param.data;
    const m = state.m.get(name)!.data;
    const v = state.v.get(name)!.data;
    const keep = decays(c, param) ? 1 - lr * c.weightDecay : 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] * gradScale;
      const mi = b1 * m[i] + c1 * gi;
      const vi = b2 * v[i] + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * keep - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
    }
  }
}
