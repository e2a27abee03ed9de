// The decoder's building blocks, composed from primitive ops so that they need no gradient rules of their own.
import type { Dim, FloatDType, Value } from "../graph/graph.js";
import { add, and, cast, cos, div, lessOrEqual, mul, neg, pow, sin, sqrt, sub, where } from "../graph/ops-elementwise.js";
import { gemm, matmul, reduceMean, softmax } from "../graph/ops-linalg.js";
import { concat, range, reshape, slice, transpose, unsqueeze } from "../graph/ops-layout.js";

/**
 * RMSNorm (Zhang & Sennrich 2019, https://arxiv.org/abs/1910.07467) over the last axis: x / sqrt(mean(x^2) + eps) * w.
 * Written as Pow -> ReduceMean -> Add -> Sqrt -> Div -> Mul, the pattern onnxruntime fuses into one kernel
 * (SimplifiedLayerNormalization) in inference graphs.
 */
export function rmsNorm<D extends FloatDType>(x: Value<D>, w: Value<D>, eps: number): Value<D> {
  const ms = reduceMean(pow(x, 2), [-1], true); // [..., 1]
  return mul(div(x, sqrt(add(ms, eps))), w); // [..., D]
}

/** y = x W^T + b for x [N, in], W [out, in] (PyTorch's nn.Linear layout, read without a transpose). */
export function linear<D extends FloatDType>(x: Value<D>, w: Value<D>, b: Value<D> | null = null): Value<D> {
  return gemm(x, w, b, { transB: true }); // [N, out]
}

/**
 * The same product for a few rows (a decode step's B), with the weight as MatMul's left operand: y^T = W x^T.
 * onnxruntime's CPU GEMM (MLAS) copies the right operand of a product into packed panels on every run; fed
 * weights (one session for every policy version) as the right operand are therefore copied whole each step,
 * while as the left operand they are read where they lie and only the small x^T is packed. `xT` is x^T [in, N]
 * (shared by the projections of one input); returns y^T [out, N]. `npm run bench -- gemm-ceiling` times both forms.
 */
export function linearWeightFirst<D extends FloatDType>(xT: Value<D>, w: Value<D>): Value<D> {
  return matmul(w, xT); // [out, N]
}

/** x [N, in] -> x^T [in, N], the operand linearWeightFirst takes. */
export function rowsAsColumns<D extends FloatDType>(x: Value<D>): Value<D> {
  return transpose(x, [1, 0]);
}

/**
 * RoPE tables (Su et al. 2021, https://arxiv.org/abs/2104.09864) for integer positions [B, T]:
 * cos/sin of pos * theta^(-2i/d), laid out as [B, T, 1, d] (the halves repeated, as in HF's rotate_half form).
 */
export function ropeTables<D extends FloatDType>(positions: Value<"int64">, headDim: number, theta: number, dtype: D): { cos: Value<D>; sin: Value<D> } {
  const g = positions.graph;
  const half = headDim / 2;
  // inv_freq is computed in float32 by transformers; round the same way so tables match to the ulp.
  const inv = Float32Array.from({ length: half }, (_, i) => 1 / theta ** ((2 * i) / headDim));
  const invFreq = g.constant({ dtype, shape: [half], data: dtype === "float32" ? inv : Float64Array.from(inv) } as never, "inv_freq") as Value<D>;
  const freqs = mul(unsqueeze(cast(positions, dtype), [2]), invFreq); // [B, T, d/2]
  const emb = unsqueeze(concat([freqs, freqs], -1), [2]); // [B, T, 1, d]
  return { cos: cos(emb), sin: sin(emb) };
}

/** x * cos + rotate_half(x) * sin, with rotate_half(x) = [-x2, x1] over the halves of the last axis. */
export function rope<D extends FloatDType>(x: Value<D>, c: Value<D>, s: Value<D>): Value<D> {
  const d = x.shape[x.rank - 1] as number;
  const x1 = slice(x, [0], [d / 2], [-1]); // [..., d/2]
  const x2 = slice(x, [d / 2], [d], [-1]); // [..., d/2]
  return add(mul(x, c), mul(concat([neg(x2), x1], -1), s)); // [..., d]
}

/** Large negative score for masked keys: exp() underflows to 0, yet a fully masked row stays finite. */
export const MASKED = -1e9;

/**
 * Which keys each query may attend to, as an additive bias: 0 where key s is visible to query t (a real token,
 * mask = 1, and not in the future), MASKED elsewhere. Queries are the last T of the S keys (the first S-T come
 * from the KV cache). mask [B, S] int64 -> bias [B, 1, 1, T, S] (broadcast over kv-heads and query groups).
 * Added to the scores rather than selecting with a 5-D Where: the mask is built once at [B, T, S], and the
 * scores' gradient passes the Add untouched (the softmax already gives masked keys exactly 0 probability).
 */
export function attentionBias<D extends FloatDType>(mask: Value<"int64">, T: Dim, dtype: D): Value<D> {
  const g = mask.graph;
  const S = mask.shape[1];
  const scalar = (v: Value<"int64">) => reshape(v, []); // [1] -> []
  const upTo = (n: Dim) => range(g.scalar("int64", 0), scalar(g.dim(n)), g.scalar("int64", 1), n);
  const kpos = upTo(S); // [S]
  const qpos = add(upTo(T), scalar(sub(g.dim(S), g.dim(T)))); // [T]: absolute positions S-T .. S-1
  const causal = lessOrEqual(unsqueeze(kpos, [0]), unsqueeze(qpos, [1])); // [T, S]
  const real = cast(mask, "bool"); // [B, S]
  const allowed = and(unsqueeze(causal, [0]), unsqueeze(real, [1])); // [B, T, S]
  const bias = where(allowed, g.scalar(dtype, 0), g.scalar(dtype, MASKED)); // [B, T, S]
  return unsqueeze(bias, [1, 2]); // [B, 1, 1, T, S]
}

/**
 * softmax(scores + bias) along the keys. A masked key's score becomes s + MASKED: exp() of it underflows to 0
 * exactly, so visible keys get the probabilities they would get alone; a row with no visible key (a padding
 * query) stays finite.
 */
export function maskedSoftmax<D extends FloatDType>(scores: Value<D>, bias: Value<D>): Value<D> {
  return softmax(add(scores, bias), -1);
}
