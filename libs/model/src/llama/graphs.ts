// The three graphs built from the decoder: inference (prefill and incremental decode with a caller-held KV
// cache), log-probs (one forward pass, no gradient) and training (forward + backward of a caller's loss).
// Every parameter is a graph input named as in the HF checkpoint; gradients come out as `grad.<name>`.
import { backward, type RecomputeSpan } from "../autodiff/backward.js";
import type { LlamaConfig } from "../config.js";
import { type Dim, type FloatDType, Graph, GraphError, type Value } from "../graph/graph.js";
import { cast, exp, log, neg, sub } from "../graph/ops-elementwise.js";
import { argMax, reduceMax, reduceSum } from "../graph/ops-linalg.js";
import { reshape } from "../graph/ops-layout.js";
import type { DType } from "../tensor.js";
import { decoder, headWeight, lastPosition, lmHead, type Params } from "./decoder.js";
import { scoredLogprobs } from "./logprobs.js";
import { validateLlamaConfig } from "../hf/config-json.js";
import { expectedParameters } from "../hf/params.js";

export const INPUT = { ids: "input_ids", positions: "position_ids", mask: "attention_mask", targets: "targets", invTemperature: "inv_temperature", scored: "scored_positions" } as const;
export const pastName = (i: number, kind: "key" | "value") => `past.${i}.${kind}`;
export const presentName = (i: number, kind: "key" | "value") => `present.${i}.${kind}`;
export const cacheName = (i: number, kind: "key" | "value") => `cache.${i}.${kind}`;
export const slotName = (i: number, kind: "key" | "value") => `slots.${i}.${kind}`;
export const SLOT_BIAS = "slot_bias";
/** The greedy decode graph's outputs in place of logits: each row's first argmax and its log-prob. */
export const GREEDY_OUTPUT = { token: "greedy_token", logprob: "greedy_logprob" } as const;
export const gradName = (param: string) => `grad.${param}`;
export const metricName = (m: string) => `metric.${m}`;

function declareParams<D extends FloatDType>(g: Graph, cfg: LlamaConfig, dtype: D): { lookup: Params<D>; values: Value<D>[] } {
  validateLlamaConfig(cfg);
  const byName = new Map([...expectedParameters(cfg)].map(([name, shape]) => [name, g.input(name, dtype, shape)]));
  const lookup = (name: string) => {
    const v = byName.get(name);
    if (!v) throw new GraphError(`decoder asked for parameter '${name}', which this config does not have`);
    return v;
  };
  return { lookup, values: [...byName.values()] };
}

/**
 * Prefill/decode graph. Inputs: input_ids, position_ids [B, T], attention_mask [B, S] over past + new tokens,
 * past.<i>.key|value [P, B, Hkv, hd] (P may be 0), and the parameters. Outputs: logits [B, V] of the last
 * position and present.<i>.key|value [T, B, Hkv, hd], the slice to append to the cache. With `wholeCache`,
 * also cache.<i>.key|value [P + T, B, Hkv, hd], past and slice joined (the attention's own concat, exposed), for
 * a caller that keeps the cache on the device and feeds it back as the next step's past.
 */
export function inferenceGraph(cfg: LlamaConfig, o: { wholeCache?: boolean } = {}): Graph {
  const g = new Graph("llama_inference");
  const ids = g.input(INPUT.ids, "int64", ["B", "T"]);
  const positions = g.input(INPUT.positions, "int64", ["B", "T"]);
  const mask = g.input(INPUT.mask, "int64", ["B", "S"]);
  const kvShape = ["P", "B", cfg.numKvHeads, cfg.headDim];
  const past = Array.from({ length: cfg.numLayers }, (_, i) => ({
    key: g.input(pastName(i, "key"), "float32", kvShape),
    value: g.input(pastName(i, "value"), "float32", kvShape),
  }));
  const p = declareParams(g, cfg, "float32");
  const out = decoder(cfg, p.lookup, { ids, positions, mask, past });
  g.output("logits", lmHead(cfg, p.lookup, lastPosition(cfg, out.hidden, "B", "T")));
  out.present.forEach((kv, i) => {
    g.output(presentName(i, "key"), kv.key);
    g.output(presentName(i, "value"), kv.value);
  });
  if (o.wholeCache) {
    out.cache.forEach((kv, i) => {
      g.output(cacheName(i, "key"), kv.key);
      g.output(cacheName(i, "value"), kv.value);
    });
  }
  return g;
}

/**
 * In-place decode graph: one token per row against a KV cache held in attention layout (decoder.ts,
 * slotAttention). Inputs: input_ids, position_ids [B, 1], slot_bias [B, C] (0 = a slot the row reads, MASKED
 * otherwise), slots.<i>.key and slots.<i>.value [B, Hkv, C, hd], and the parameters. Outputs:
 * logits [B, V] and present.<i>.key|value [1, B, Hkv, hd], the step's keys and values for the caller to write
 * into slot P of each row (generate/slot-kv-cache.ts). The slots are read in place: a step copies nothing
 * that grows with the cache. With `greedy`, greedy_token [B] and greedy_logprob [B] take the logits' place.
 * The projections and LM head take the weight first, W x^T, which pays from 2 rows on; `oneRow` makes the
 * graph for B = 1, where x W^T is faster (OnnxDecoder picks by the step's rows: decoder-session.ts).
 */
export function slotDecodeGraph(cfg: LlamaConfig, o: SlotGraphForm = {}): Graph {
  const g = new Graph(slotGraphName(o));
  const ids = g.input(INPUT.ids, "int64", ["B", 1]);
  const positions = g.input(INPUT.positions, "int64", ["B", 1]);
  const bias = g.input(SLOT_BIAS, "float32", ["B", "C"]);
  const kv = Array.from({ length: cfg.numLayers }, (_, i) => ({
    key: g.input(slotName(i, "key"), "float32", ["B", cfg.numKvHeads, "C", cfg.headDim]),
    value: g.input(slotName(i, "value"), "float32", ["B", cfg.numKvHeads, "C", cfg.headDim]),
  }));
  const p = declareParams(g, cfg, "float32");
  const weightFirst = !o.oneRow;
  const out = decoder(cfg, p.lookup, { ids, positions, slots: { kv, bias }, weightFirst });
  const logits = lmHead(cfg, p.lookup, out.hidden, { weightFirst }); // T = 1: the hidden rows are the last positions
  if (o.greedy) greedyOutputs(g, logits);
  else g.output("logits", logits);
  out.present.forEach((s, i) => {
    g.output(presentName(i, "key"), s.key);
    g.output(presentName(i, "value"), s.value);
  });
  return g;
}

/** The forms of the in-place decode graph: what it returns (logits, or greedy picks) and for how many rows. */
export interface SlotGraphForm {
  /** greedy_token and greedy_logprob in place of the logits. */
  greedy?: boolean;
  /** Built for B = 1: the products as x W^T. */
  oneRow?: boolean;
}

export const slotGraphName = (o: SlotGraphForm) => `llama_slot_decode${o.greedy ? "_greedy" : ""}${o.oneRow ? "_one_row" : ""}`;

/**
 * Greedy decoding's answer per row, computed where the logits are: the first argmax (ArgMax keeps the first
 * on ties, as torch.argmax) and its log-prob, log softmax(logits)[argmax] = -log sum exp(logits - max). In
 * the graph these run on onnxruntime's vectorized Exp and ReduceSum, over 1 ms per 152k-logit row faster than
 * the same pass in JS (sampling/sample.ts), and no [B, V] logits are copied out. A row holding a NaN or +inf,
 * or only -inf, gives a NaN log-prob: the decoder then runs the logits graph, whose sampler names the entry.
 * (ReduceLogSumExp would say the same in one node, but onnxruntime's CPU kernel of it is scalar: 3x slower.)
 */
function greedyOutputs(g: Graph, logits: Value<"float32">): void {
  const shifted = sub(logits, reduceMax(logits, [1], true)); // [B, V], the max at 0
  g.output(GREEDY_OUTPUT.token, argMax(logits, 1)); // [B]
  g.output(GREEDY_OUTPUT.logprob, neg(log(reduceSum(exp(shifted), [1])))); // [B]
}

function fullSequenceInputs<D extends FloatDType>(g: Graph, dtype: D) {
  return {
    ids: g.input(INPUT.ids, "int64", ["B", "T"]),
    positions: g.input(INPUT.positions, "int64", ["B", "T"]),
    mask: g.input(INPUT.mask, "int64", ["B", "T"]),
    targets: g.input(INPUT.targets, "int64", ["B", "T"]),
    /** [B] 1 / the temperature each row was sampled at (1 for T = 1 and for greedy rows). */
    invTemperature: g.input(INPUT.invTemperature, dtype, ["B"]),
    /** [M] the flat positions b * T + t whose log-probs a loss reads (the runner feeds every position when the
     *  batch names none); the others read 0. */
    scored: g.input(INPUT.scored, "int64", ["M"]),
  };
}

/** How the learner's graphs trade memory for compute (issue 16). */
export interface LearnerGraphOptions {
  /** Vocabulary entries per log-softmax chunk in the forward (log-prob) graph; 0: all at once (logprobs.ts). */
  vocabChunk?: number;
  /** Recompute each decoder layer in the backward pass instead of keeping its activations: a second forward
   *  pass of the layers, the activations of one layer at a time instead of all of them. */
  recompute?: boolean;
}

/**
 * One forward pass, no gradient: `logprobs` [B, T] of `targets` at each row's temperature at the scored
 * positions (PPO's old log-probs, the KL reference's), computed a vocabulary chunk at a time.
 */
export function forwardGraph(cfg: LlamaConfig, dtype: FloatDType = "float32", o: LearnerGraphOptions = {}): Graph {
  const g = new Graph("llama_forward");
  const inp = fullSequenceInputs(g, dtype);
  const p = declareParams(g, cfg, dtype);
  const out = decoder(cfg, p.lookup, inp);
  g.output("logprobs", scoredLogprobs(out.hidden, headWeight(cfg, p.lookup), inp, { vocabChunk: o.vocabChunk }).logprobs);
  return g;
}

/** One forward pass with the raw logits of every position: `logits` [B, T, V] (before any temperature). */
export function logitsGraph(cfg: LlamaConfig, dtype: FloatDType = "float32"): Graph {
  const g = new Graph("llama_logits");
  const inp = fullSequenceInputs(g, dtype);
  const p = declareParams(g, cfg, dtype);
  const out = decoder(cfg, p.lookup, inp);
  g.output("logits", reshape(lmHead(cfg, p.lookup, out.hidden), ["B", "T", cfg.vocabSize]));
  return g;
}

/** What a loss builder sees. */
export interface LossContext<D extends FloatDType = "float32"> {
  /** log p(targets[b,t]) under the current parameters at each row's temperature (log softmax(logits / T)), [B, T];
   *  0 at positions the batch does not score (TokenBatch.scoreMask). */
  logprobs: Value<D>;
  /** The attention mask as floats, [B, T] (1 = real token). */
  mask: Value<D>;
  /** Declares an extra graph input the caller feeds with each batch (advantages, old log-probs, loss masks...). */
  input<E extends DType>(name: string, dtype: E, shape: readonly Dim[]): Value<E>;
  /** Per-token entropy of the predictive distribution at each row's temperature, [B, T], 0 where not scored
   *  (built on first call: a pass over the vocabulary). */
  entropy(): Value<D>;
  /** The symbolic batch and time dims of [B, T] inputs. */
  dims: { B: "B"; T: "T" };
}

export interface LossResult<D extends FloatDType = "float32"> {
  /** A scalar (shape [] or [1]). */
  loss: Value<D>;
  /** Named values reported with each step (scalars, usually). */
  metrics?: Record<string, Value<D>>;
}

export type LossBuilder<D extends FloatDType = "float32"> = (ctx: LossContext<D>) => LossResult<D>;

export interface TrainingGraph {
  graph: Graph;
  /** Extra inputs the loss builder declared, in declaration order. */
  extraInputs: { name: string; dtype: DType; shape: readonly Dim[] }[];
  metrics: string[];
  params: string[];
  /** The spans the backward pass recomputes (the decoder layers); empty without `recompute`. */
  recomputed: RecomputeSpan[];
}

/**
 * Forward + backward for a caller's per-token loss. Outputs: `loss`, `metric.<name>` and `grad.<param>` for
 * every parameter (float32 unless `dtype` says float64, which tests use for finite differences).
 */
export function trainingGraph<D extends FloatDType = "float32">(cfg: LlamaConfig, build: LossBuilder<D>, dtype: D = "float32" as D, o: LearnerGraphOptions = {}): TrainingGraph {
  const g = new Graph("llama_training");
  const inp = fullSequenceInputs(g, dtype);
  const p = declareParams(g, cfg, dtype);
  const out = decoder(cfg, p.lookup, inp);
  const scored = scoredLogprobs(out.hidden, headWeight(cfg, p.lookup), inp);
  const extraInputs: TrainingGraph["extraInputs"] = [];
  const ctx: LossContext<D> = {
    logprobs: scored.logprobs,
    mask: cast(inp.mask, dtype),
    dims: { B: "B", T: "T" },
    input(name, dt, shape) {
      if (g.inputs.some((v) => v.name === name)) throw new GraphError(`loss input '${name}' clashes with a model input or parameter`);
      extraInputs.push({ name, dtype: dt, shape });
      return g.input(name, dt, shape);
    },
    entropy: () => scored.entropy(),
  };
  const res = build(ctx);
  g.output("loss", res.loss);
  const metrics = Object.keys(res.metrics ?? {});
  for (const m of metrics) g.output(metricName(m), res.metrics![m]);
  const recomputed = o.recompute ? out.layers : [];
  const grads = backward(res.loss, p.values, { recompute: recomputed });
  grads.forEach((gr, i) => g.output(gradName(p.values[i].name), gr));
  return { graph: g, extraInputs, metrics, params: p.values.map((v) => v.name), recomputed };
}
