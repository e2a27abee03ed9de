// The Llama-family decoder (Llama 2/3, Qwen2, Qwen3), one code path, read top to bottom: config flags pick
// q/k/v bias (Qwen2), per-head q/k RMSNorm (Qwen3) and tied embeddings. Shapes: B batch, T new tokens,
// P cached tokens, S = P + T keys, D hidden, H query heads, Hkv key/value heads, G = H / Hkv, hd head dim,
// N = B * T rows. Activations stay 2-D [N, D] between attention calls so every projection is one product (in a
// decode step, of the few rows, with the weight as the left operand: layers.ts linearWeightFirst).
//
// Three uses (graphs.ts): training/log-prob graphs run the whole sequence (no cache, S = T); the inference graph
// takes each layer's past K/V in time-major layout [P, B, Hkv, hd] and returns only the new slice [T, B, Hkv, hd],
// so the caller appends it to a cache it owns; the in-place decode graph (one token per row) reads a cache held
// in the layout attention multiplies by (keys and values [B, Hkv, C, hd]: `slots`), so no step copies the cache,
// and also returns only the new slice, which the caller writes into its slots.
import type { LlamaConfig } from "../config.js";
import type { Dim, FloatDType, Value } from "../graph/graph.js";
import { add, mul, silu } from "../graph/ops-elementwise.js";
import { matmul, reduceSum, softmax } from "../graph/ops-linalg.js";
import { concat, gather, reshape, slice, split, squeeze, transpose, unsqueeze } from "../graph/ops-layout.js";
import { attentionBias, linear, linearWeightFirst, maskedSoftmax, rmsNorm, rope, ropeTables, rowsAsColumns } from "./layers.js";

const layerPrefix = (i: number) => `model.layers.${i}`;

/** Looks up a parameter (an HF name) as a graph value. */
export type Params<D extends FloatDType> = (name: string) => Value<D>;

export interface KvSlice<D extends FloatDType> {
  /** Time-major [P or T, B, Hkv, hd]. */
  key: Value<D>;
  value: Value<D>;
}

export interface DecoderInputs<D extends FloatDType> {
  ids: Value<"int64">; // [B, T]
  positions: Value<"int64">; // [B, T], following the attention mask (so left padding does not shift them)
  /** [B, S]: 1 for real tokens, 0 for padding, over cached + new keys (absent with `slots`, which bring their own bias). */
  mask?: Value<"int64">;
  /** Per layer, the cached keys/values (inference); absent for full-sequence graphs. */
  past?: KvSlice<D>[];
  /** In-place decode (T = 1): per layer the cache in attention layout, keys and values [B, Hkv, C, hd], and
   *  `bias` [B, C]: 0 for a slot the row's query may read, MASKED for padding and for slots
   *  not written yet. The new token always sees itself (it is not in the slots yet). */
  slots?: { kv: KvSlice<D>[]; bias: Value<D> };
  /** The projections and LM head as W x^T (layers.ts linearWeightFirst). Default: with slots (a decode step's
   *  few rows); a graph for one row sets it false (graphs.ts slotDecodeGraph `oneRow`). */
  weightFirst?: boolean;
}

export interface DecoderOutputs<D extends FloatDType> {
  /** Final-norm hidden states of every new token, [N, D] (row n = b * T + t). */
  hidden: Value<D>;
  /** Per layer, this call's keys/values (post-RoPE, as cached): time-major [T, B, Hkv, hd] when `past` is given,
   *  else [B, T, Hkv, hd]. */
  present: KvSlice<D>[];
  /** Per layer, past + this call's keys/values, time-major [P + T, B, Hkv, hd] (only when `past` is given): the
   *  whole cache after this call, for callers that keep the cache on the device and feed it back as is. */
  cache: KvSlice<D>[];
  /** Per layer, the nodes that compute it (indices [start, end) into the graph's node list) and its input
   *  [N, D]: what a backward pass may recompute from that input instead of keeping (autodiff/backward.ts). */
  layers: LayerSpan[];
}

export interface LayerSpan {
  start: number;
  end: number;
  input: Value;
}

interface Ctx<D extends FloatDType> {
  cfg: LlamaConfig;
  p: Params<D>;
  B: Dim;
  T: Dim;
  rope: { cos: Value<D>; sin: Value<D> }; // [B, T, 1, hd]
  bias: Value<D>; // [B, 1, 1, T, S]: 0 where a query may attend, MASKED elsewhere ([B, 1, 1, C] over slots)
  /** A decode step's few rows: projections take the weight as the left operand (layers.ts linearWeightFirst). */
  weightFirst: boolean;
}

function optionalBias<D extends FloatDType>(c: Ctx<D>, name: string): Value<D> | null {
  return c.cfg.attentionBias ? c.p(`${name}.bias`) : null;
}

/** A projection of one input x [N, in]: w [out, in] (and a bias [out]) -> x w^T + b [N, out]. */
type Project<D extends FloatDType> = (w: Value<D>, b?: Value<D> | null) => Value<D>;

/** The projections of x [N, in] in the form the graph's rows call for; with few rows, one x^T serves them all. */
function projections<D extends FloatDType>(c: Ctx<D>, x: Value<D>): Project<D> {
  if (!c.weightFirst) return (w, b = null) => linear(x, w, b);
  const xT = rowsAsColumns(x); // [in, N]
  return (w, b = null) => {
    const y = rowsAsColumns(linearWeightFirst(xT, w)); // [N, out]
    return b ? add(y, b) : y;
  };
}

/** x [N, D] -> per-head [B, T, heads, hd], with Qwen3's q/k norm when the config has it (RoPE comes after). */
function heads<D extends FloatDType>(c: Ctx<D>, project: Project<D>, proj: string, n: number, norm: string | null): Value<D> {
  const { headDim: hd } = c.cfg;
  let h = reshape(project(c.p(`${proj}.weight`), optionalBias(c, proj)), [c.B, c.T, n, hd]); // [B, T, n, hd]
  if (norm && c.cfg.qkNorm) h = rmsNorm(h, c.p(`${norm}.weight`), c.cfg.rmsNormEps);
  return h;
}

/**
 * Query heads per kv head (G) up to which a decode step's attention products take one query row at a time
 * (rowByRow); above it, one product of G rows per kv head. From `npm run bench -- decode` part 4 (the products
 * alone, docs/BENCHMARKS.md "Decode"): at G = 2 one row is 1.1-1.6x faster (it skips the packing copy of the
 * cache); at G = 4 it is even at batch 16 and slower at batch 1; at G = 7 slower (it reads the cache G times,
 * and the products are many and small). Those timings took the scores as q K over keys [B, Hkv, hd, C].
 * Both products with the cache as the left operand (K q and V p, the scores and probabilities [C, G]) were tried
 * at a34e3ec and reverted: the decode bench had the whole step slower, that layout's mask broadcast, axis -2
 * softmax and transposes costing more than the products saved (commit 4b75bea has the profile). The keys alone
 * as the left operand (keyScores) keep the scores [G, C], so the mask, the softmax and the values' product stay
 * as they were; an ad-hoc A/B of whole generations (25M, 256 new tokens, 4 alternations, not committed) had the
 * median step no slower at batch 16 and 64, and the loop outside the steps faster: a slot's keys are written
 * contiguously, where keys [B, Hkv, hd, C] took a strided write per number.
 */
const ONE_ROW_MAX_GROUP = 2;

/** Where a layer's attention reads its past from: nothing (full sequence), a time-major past, or slots. */
type LayerCache<D extends FloatDType> = { past?: KvSlice<D>; slots?: KvSlice<D> };

function attention<D extends FloatDType>(c: Ctx<D>, i: number, x: Value<D>, cache: LayerCache<D>): { out: Value<D>; kv: KvSlice<D>; all?: KvSlice<D> } {
  const { numHeads: H, numKvHeads: Hkv, headDim: hd } = c.cfg;
  const G = H / Hkv;
  const a = `${layerPrefix(i)}.self_attn`;
  const project = projections(c, x);
  const q = rope(heads(c, project, `${a}.q_proj`, H, `${a}.q_norm`), c.rope.cos, c.rope.sin); // [B, T, H, hd]
  const k = rope(heads(c, project, `${a}.k_proj`, Hkv, `${a}.k_norm`), c.rope.cos, c.rope.sin); // [B, T, Hkv, hd]
  const v = heads(c, project, `${a}.v_proj`, Hkv, null); // [B, T, Hkv, hd]

  // Queries grouped under their key/value head: head h reads kv head floor(h / G), as HF's repeat_kv.
  const qs = mul(transpose(q, [0, 2, 1, 3]), 1 / Math.sqrt(hd)); // [B, H, T, hd], pre-scaled
  const qg = reshape(qs, [c.B, Hkv, -1, hd]); // [B, Hkv, G*T, hd]
  if (cache.slots) return { out: projections(c, slotAttention(c, qg, k, v, cache.slots))(c.p(`${a}.o_proj.weight`)), kv: timeMajor(k, v) };
  const past = cache.past;

  let kT: Value<D>; // [B, Hkv, hd, S]
  let vS: Value<D>; // [B, Hkv, S, hd]
  let kv: KvSlice<D>;
  let all: KvSlice<D> | undefined;
  if (past) {
    kv = timeMajor(k, v); // [T, B, Hkv, hd]
    const kAll = concat([past.key, kv.key], 0); // [S, B, Hkv, hd]
    const vAll = concat([past.value, kv.value], 0); // [S, B, Hkv, hd]
    all = { key: kAll, value: vAll };
    kT = transpose(kAll, [1, 2, 3, 0]);
    vS = transpose(vAll, [1, 2, 0, 3]);
  } else {
    kv = { key: k, value: v };
    kT = transpose(k, [0, 2, 3, 1]);
    vS = transpose(v, [0, 2, 1, 3]);
  }
  const scores = reshape(matmul(qg, kT), [c.B, Hkv, G, c.T, -1]); // [B, Hkv, G, T, S]
  const probs = reshape(maskedSoftmax(scores, c.bias), [c.B, Hkv, -1, c.bias.shape[4]]); // [B, Hkv, G*T, S]
  const ctx = reshape(matmul(probs, vS), [c.B, H, c.T, hd]); // [B, H, T, hd]
  const merged = reshape(transpose(ctx, [0, 2, 1, 3]), [-1, H * hd]); // [N, H*hd]
  return { out: projections(c, merged)(c.p(`${a}.o_proj.weight`)), kv, all }; // [N, D]
}

/** This call's keys and values [B, T, Hkv, hd] as the cache's time-major slice [T, B, Hkv, hd]. */
function timeMajor<D extends FloatDType>(k: Value<D>, v: Value<D>): KvSlice<D> {
  return { key: transpose(k, [1, 0, 2, 3]), value: transpose(v, [1, 0, 2, 3]) };
}

/**
 * One decode step's attention over a cache held in the layout the two products read, keys and values both
 * [B, Hkv, C, hd] (a slot's numbers contiguous, so writing a step's slot is a contiguous copy): the scores are
 * K q^T, the cache as the left operand (keyScores), and the context p V, with no concat, transpose or repeat of
 * the cache (each step reads it once, in place). The new token's own key and value are not in the
 * slots yet (the caller writes them after the step), so its score is a dot product joined to the slots' scores
 * before the softmax, and its value is added with its probability. qg [B, Hkv, G, hd] (T = 1, pre-scaled),
 * k and v [B, 1, Hkv, hd] -> [B, H * hd].
 */
function slotAttention<D extends FloatDType>(c: Ctx<D>, qg: Value<D>, k: Value<D>, v: Value<D>, slots: KvSlice<D>): Value<D> {
  const { numHeads: H, numKvHeads: Hkv, headDim: hd } = c.cfg;
  const kSelf = reshape(k, [c.B, Hkv, 1, hd]); // T = 1: the same order as [B, 1, Hkv, hd]
  const vSelf = reshape(v, [c.B, Hkv, 1, hd]);
  const times = H / Hkv <= ONE_ROW_MAX_GROUP ? rowByRow : matmul<D>;
  const past = add(keyScores(qg, slots.key, H / Hkv), c.bias); // [B, Hkv, G, C]
  const self = reduceSum(mul(qg, kSelf), [-1], true); // [B, Hkv, G, 1]
  const probs = softmax(concat([past, self], -1), -1); // [B, Hkv, G, C + 1]
  const [pPast, pSelf] = split(probs, 3, [slots.key.shape[2], 1]); // [B, Hkv, G, C], [B, Hkv, G, 1]
  const ctx = add(times(pPast, slots.value), mul(pSelf, vSelf)); // [B, Hkv, G, hd]
  return reshape(ctx, [c.B, H * hd]); // head h = kv head * G + g, as the queries were grouped
}

/**
 * The G query rows' scores against the keys [B, Hkv, C, hd] -> [B, Hkv, G, C], as K q^T: onnxruntime's CPU MatMul
 * reads its left operand where it lies and packs only the right one, here the few query rows. Up to
 * ONE_ROW_MAX_GROUP rows, each is its own product (the G rows a broadcast batch dimension: [B, Hkv, 1, C, hd] x
 * [B, Hkv, G, hd, 1]); above it, one product of the G rows and a transpose of the scores (G x C numbers, not
 * the cache). Against q K over keys [B, Hkv, hd, C] (the layout before), timed ad hoc on the products alone
 * (not committed): no slower at G = 7, faster at G = 2. ONE_ROW_MAX_GROUP above says what the decode bench shows.
 */
function keyScores<D extends FloatDType>(qg: Value<D>, keys: Value<D>, G: number): Value<D> {
  if (G <= ONE_ROW_MAX_GROUP) return squeeze(matmul(unsqueeze(keys, [2]), unsqueeze(qg, [4])), [4]);
  return transpose(matmul(keys, transpose(qg, [0, 1, 3, 2])), [0, 1, 3, 2]);
}

/**
 * a [B, Hkv, G, K] times a cache operand m [B, Hkv, K, N] -> [B, Hkv, G, N], one row of a at a time: the G rows
 * become a broadcast batch dimension ([B, Hkv, G, 1, K] x [B, Hkv, 1, K, N]; Unsqueeze is a view), so each
 * product is a vector times the cache. onnxruntime's CPU MatMul copies the right operand of a product with
 * several rows into packed panels before multiplying, which for the cache is a copy of it every step; a
 * one-row product reads it where it lies, but reads it once per row.
 */
function rowByRow<D extends FloatDType>(a: Value<D>, m: Value<D>): Value<D> {
  return squeeze(matmul(unsqueeze(a, [3]), unsqueeze(m, [2])), [3]);
}

/** SwiGLU MLP (Shazeer 2020, https://arxiv.org/abs/2002.05202): down(silu(gate(x)) * up(x)). */
function mlp<D extends FloatDType>(c: Ctx<D>, i: number, x: Value<D>): Value<D> {
  const m = `${layerPrefix(i)}.mlp`;
  const w = (proj: string) => c.p(`${m}.${proj}_proj.weight`);
  if (c.weightFirst) {
    // Rows as columns from the input to the output: SiLU and the product are elementwise, so the MLP needs no
    // transpose between its three projections.
    const xT = rowsAsColumns(x); // [D, N]
    const hT = mul(silu(linearWeightFirst(xT, w("gate"))), linearWeightFirst(xT, w("up"))); // [I, N]
    return rowsAsColumns(linearWeightFirst(hT, w("down"))); // [N, D]
  }
  const gate = linear(x, w("gate")); // [N, I]
  const up = linear(x, w("up")); // [N, I]
  return linear(mul(silu(gate), up), w("down")); // [N, D]
}

function block<D extends FloatDType>(c: Ctx<D>, i: number, x: Value<D>, cache: LayerCache<D>): { x: Value<D>; kv: KvSlice<D>; all?: KvSlice<D> } {
  const l = layerPrefix(i);
  const eps = c.cfg.rmsNormEps;
  const att = attention(c, i, rmsNorm(x, c.p(`${l}.input_layernorm.weight`), eps), cache);
  const h = add(x, att.out); // [N, D]
  const out = add(h, mlp(c, i, rmsNorm(h, c.p(`${l}.post_attention_layernorm.weight`), eps))); // [N, D]
  return { x: out, kv: att.kv, all: att.all };
}

export function decoder<D extends FloatDType>(cfg: LlamaConfig, p: Params<D>, inp: DecoderInputs<D>): DecoderOutputs<D> {
  const [B, T] = inp.ids.shape;
  if (inp.past && inp.past.length !== cfg.numLayers) throw new Error(`decoder: ${inp.past.length} past K/V slices for ${cfg.numLayers} layers`);
  if (inp.slots && inp.slots.kv.length !== cfg.numLayers) throw new Error(`decoder: ${inp.slots.kv.length} K/V slot caches for ${cfg.numLayers} layers`);
  if (inp.slots && (inp.past || T !== 1)) throw new Error(`decoder: slots decode one token per row without a time-major past (T = ${T})`);
  if (!inp.slots && !inp.mask) throw new Error("decoder: an attention mask is needed (only slots bring their own bias)");
  const emb = p("model.embed_tokens.weight");
  const c: Ctx<D> = {
    cfg, p, B, T,
    rope: ropeTables(inp.positions, cfg.headDim, cfg.ropeTheta, emb.dtype),
    bias: inp.slots ? unsqueeze(inp.slots.bias, [1, 2]) : attentionBias(inp.mask!, T, emb.dtype),
    // Slots decode one token per row: B rows, the few for which the weight-first form pays.
    weightFirst: inp.weightFirst ?? inp.slots !== undefined,
  };
  let x = reshape(gather(emb, inp.ids, 0), [-1, cfg.hiddenSize]); // [N, D]
  const present: KvSlice<D>[] = [];
  const cache: KvSlice<D>[] = [];
  const layers: LayerSpan[] = [];
  const g = x.graph;
  for (let i = 0; i < cfg.numLayers; i++) {
    const start = g.nodes.length;
    const r = block(c, i, x, { past: inp.past?.[i], slots: inp.slots?.kv[i] });
    layers.push({ start, end: g.nodes.length, input: x });
    x = r.x;
    present.push(r.kv);
    if (r.all) cache.push(r.all);
  }
  return { hidden: rmsNorm(x, p("model.norm.weight"), cfg.rmsNormEps), present, cache, layers };
}

/** The output projection's weight [V, D]: tied configs reuse the embedding matrix. */
export function headWeight<D extends FloatDType>(cfg: LlamaConfig, p: Params<D>): Value<D> {
  return p(cfg.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
}

/** Output projection: hidden [M, D] -> logits [M, V]; `weightFirst` for a decode step's few rows (layers.ts). */
export function lmHead<D extends FloatDType>(cfg: LlamaConfig, p: Params<D>, hidden: Value<D>, o: { weightFirst?: boolean } = {}): Value<D> {
  if (o.weightFirst) return rowsAsColumns(linearWeightFirst(rowsAsColumns(hidden), headWeight(cfg, p)));
  return linear(hidden, headWeight(cfg, p));
}

/** The last new token's hidden state per row: [N, D] -> [B, D] (left padding puts every row's last token at T-1). */
export function lastPosition<D extends FloatDType>(cfg: LlamaConfig, hidden: Value<D>, B: Dim, T: Dim): Value<D> {
  const x = reshape(hidden, [B, T, cfg.hiddenSize]); // [B, T, D]
  return reshape(slice(x, [-1], [2 ** 62], [1]), [-1, cfg.hiddenSize]); // [B, D]
}
