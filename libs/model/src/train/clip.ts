// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: scale every gradient by
// min(1, maxNorm / (norm + 1e-6)). Sums of squares accumulate in float64.

export function globalNorm(grads: Iterable<Float32Array>): number {
  let ss = 0;
  for (const g of grads) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    ss += s;
  }
  return Math.sqrt(ss);
}

/** The factor clip_grad_norm_ multiplies gradients by (1 when under the limit or no limit is set). */
export function clipScale(norm: number, maxNorm: number | null): number {
  if (maxNorm === null) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}
