// Checks our engine against a transformers reference in the format of test/fixtures/hf/llama:
//   reference.safetensors: input_ids int64 [B,T], logits [B,T,V], loss_coef [B,T-1], loss [1],
//                          grad.<param> for every parameter, of
//                          loss = -mean(loss_coef * log_softmax(logits)[:, :-1] gathered at input_ids[:, 1:])
//   reference.json (optional): greedy (left-padded batched greedy decoding) and tokenizer_cases.
// Tolerances are the fixture README's: logits max abs err <= 1e-4; each gradient's max abs err <=
// 1e-4 + 1e-3 * max|reference|; greedy output and tokenizer ids/text identical. Returns a JSON-able report.
import { generate } from "../generate/generate.js";
import { ops } from "../graph/ops.js";
import { type HfModel } from "../hf/model-files.js";
import { expectedParameters, parameterCount } from "../hf/params.js";
import { type DecodedTensor } from "../hf/safetensors.js";
import { makeTokenBatch } from "../llama/batch.js";
import { OnnxDecoder } from "../runtime/decoder-session.js";
import { type Provider } from "../runtime/providers.js";
import { ForwardSession, GradientSession } from "../runtime/train-session.js";
import { loadTokenizer } from "../tokenizer/tokenizer.js";

export class ReferenceFormatError extends Error {
  override name = "ReferenceFormatError";
}

export const TOLERANCES = { logitsAbs: 1e-4, lossAbs: 1e-4, gradAbs: 1e-4, gradRel: 1e-3 } as const;

export interface GreedyReference {
  prompts: number[][];
  left_padded_input: number[][];
  attention_mask: number[][];
  output: number[][];
  max_new_tokens: number;
}

export interface TokenizerCase {
  text: string;
  ids: number[];
  decoded: string;
}

export interface ReferenceJson {
  greedy?: GreedyReference;
  tokenizer_cases?: TokenizerCase[];
}

export interface VerifyReport {
  ok: boolean;
  model: { model_type: string; parameters: number; provider: Provider };
  tolerances: typeof TOLERANCES;
  logits: { ok: boolean; max_abs_err: number; shape: number[] };
  loss: { ok: boolean; ours: number; reference: number; abs_err: number };
  gradients: {
    ok: boolean;
    tensors: number;
    /** The tensor closest to (or furthest past) its tolerance. */
    worst: GradientCheck;
    failed: GradientCheck[];
  };
  greedy: { ok: boolean; rows: number; mismatched_rows: number[]; ours: number[][] } | { skipped: string };
  tokenizer: { ok: boolean; cases: number; failed: Array<{ text: string; want_ids: number[]; got_ids: number[]; want_text: string; got_text: string }> } | { skipped: string };
}

export interface GradientCheck {
  name: string;
  max_abs_err: number;
  tolerance: number;
  /** max_abs_err / tolerance: <= 1 passes. */
  ratio: number;
}

function need<T extends DecodedTensor["dtype"]>(ref: ReadonlyMap<string, DecodedTensor>, name: string, dtype: T, shape?: number[]): Extract<DecodedTensor, { dtype: T }> {
  const t = ref.get(name);
  if (!t) throw new ReferenceFormatError(`reference is missing tensor '${name}'`);
  if (t.dtype !== dtype) throw new ReferenceFormatError(`reference tensor '${name}' is ${t.dtype}, expected ${dtype}`);
  if (shape && t.shape.join() !== shape.join()) throw new ReferenceFormatError(`reference tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
  return t as Extract<DecodedTensor, { dtype: T }>;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as a failure
  }
  return m;
}

/** Runs every check; `reference` holds the decoded tensors of reference.safetensors. */
export async function verifyAgainstReference(
  model: HfModel,
  reference: ReadonlyMap<string, DecodedTensor>,
  referenceJson: ReferenceJson | null,
  options: { provider?: Provider } = {},
): Promise<VerifyReport> {
  const { config, weights } = model;
  const provider = options.provider ?? "cpu";
  const ids = need(reference, "input_ids", "int64");
  if (ids.shape.length !== 2 || ids.shape[1] < 2) throw new ReferenceFormatError(`reference 'input_ids' must be [B, T] with T >= 2, got [${ids.shape}]`);
  const [B, T] = ids.shape;
  const V = config.vocabSize;
  const wantLogits = need(reference, "logits", "float32", [B, T, V]);
  const coef = need(reference, "loss_coef", "float32", [B, T - 1]);
  const wantLoss = need(reference, "loss", "float32");
  const params = [...expectedParameters(config).keys()];
  const wantGrads = params.map((p) => need(reference, `grad.${p}`, "float32", expectedParameters(config).get(p)));

  const rows = Array.from({ length: B }, (_, b) => Array.from(ids.data.subarray(b * T, (b + 1) * T), Number));
  const batch = makeTokenBatch(rows); // all-ones mask, positions 0..T-1: what model(input_ids) does

  // Logits of the full-sequence graph.
  const fwd = await ForwardSession.create(config, { provider });
  const logits = await fwd.logits(weights, batch);
  await fwd.release();
  const logitsErr = maxAbsDiff(logits.data, wantLogits.data);

  // Loss and gradients: -sum(coef * logp(next token)) / (B * (T-1)); the last position predicts nothing.
  const coefPadded = new Float32Array(B * T);
  for (let b = 0; b < B; b++) coefPadded.set(coef.data.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
  const count = B * (T - 1);
  const grad = await GradientSession.create(config, (ctx) => {
    const c = ctx.input("loss_coef", "float32", ["B", "T"]);
    return { loss: ops.neg(ops.div(ops.sumAll(ops.mul(c, ctx.logprobs)), count)) };
  }, { provider });
  const fb = await grad.run(weights, { ...batch, extras: { loss_coef: { dtype: "float32", shape: [B, T], data: coefPadded } } });
  await grad.release();
  const lossErr = Math.abs(fb.loss - wantLoss.data[0]);
  const checks: GradientCheck[] = params.map((name, i) => {
    const want = wantGrads[i].data;
    let refMax = 0;
    for (const v of want) refMax = Math.max(refMax, Math.abs(v));
    const tolerance = TOLERANCES.gradAbs + TOLERANCES.gradRel * refMax;
    const err = maxAbsDiff(fb.grads.get(name)!.data, want);
    return { name, max_abs_err: err, tolerance, ratio: err / tolerance };
  });
  const worst = checks.reduce((a, b) => (!(b.ratio <= a.ratio) ? b : a));

  const report: VerifyReport = {
    ok: false,
    model: { model_type: config.modelType, parameters: parameterCount(config), provider },
    tolerances: TOLERANCES,
    logits: { ok: logitsErr <= TOLERANCES.logitsAbs, max_abs_err: logitsErr, shape: [B, T, V] },
    loss: { ok: lossErr <= TOLERANCES.lossAbs, ours: fb.loss, reference: wantLoss.data[0], abs_err: lossErr },
    gradients: { ok: checks.every((c) => c.ratio <= 1), tensors: checks.length, worst, failed: checks.filter((c) => !(c.ratio <= 1)) },
    greedy: referenceJson?.greedy ? await checkGreedy(model, referenceJson.greedy, provider) : { skipped: "no greedy reference (reference.json beside the reference file)" },
    tokenizer: referenceJson?.tokenizer_cases ? checkTokenizer(model, referenceJson.tokenizer_cases) : { skipped: "no tokenizer cases (reference.json beside the reference file)" },
  };
  report.ok = report.logits.ok && report.loss.ok && report.gradients.ok
    && (!("ok" in report.greedy) || report.greedy.ok) && (!("ok" in report.tokenizer) || report.tokenizer.ok);
  return report;
}

async function checkGreedy(model: HfModel, g: GreedyReference, provider: Provider): Promise<VerifyReport["greedy"]> {
  for (const k of ["prompts", "left_padded_input", "output", "max_new_tokens"] as const) {
    if (g[k] === undefined) throw new ReferenceFormatError(`reference.json: greedy.${k} is missing`);
  }
  // The pad id is whatever transformers put under mask 0.
  const padAt = g.attention_mask?.flatMap((m, b) => m.flatMap((x, t) => (x === 0 ? [g.left_padded_input[b][t]] : []))) ?? [];
  const decoder = await OnnxDecoder.create(model.config, model.weights, { provider });
  const res = await generate(decoder, g.prompts, { maxNewTokens: g.max_new_tokens, stopTokenIds: [], padTokenId: padAt[0] ?? model.config.padTokenId ?? 0 });
  await decoder.release();
  const ours = g.left_padded_input.map((row, b) => [...row, ...res.tokens[b]]);
  const mismatched = ours.flatMap((row, b) => (row.join() === g.output[b]?.join() ? [] : [b]));
  return { ok: mismatched.length === 0 && ours.length === g.output.length, rows: ours.length, mismatched_rows: mismatched, ours };
}

function checkTokenizer(model: HfModel, cases: TokenizerCase[]): VerifyReport["tokenizer"] {
  const tok = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson);
  const failed: Array<{ text: string; want_ids: number[]; got_ids: number[]; want_text: string; got_text: string }> = [];
  cases.forEach((c, i) => {
    if (typeof c.text !== "string" || !Array.isArray(c.ids) || typeof c.decoded !== "string") {
      throw new ReferenceFormatError(`reference.json: tokenizer_cases[${i}] needs text, ids and decoded`);
    }
    const got = tok.encode(c.text);
    const text = tok.decode(c.ids);
    if (got.join() !== c.ids.join() || text !== c.decoded) failed.push({ text: c.text, want_ids: c.ids, got_ids: got, want_text: c.decoded, got_text: text });
  });
  return { ok: failed.length === 0, cases: cases.length, failed };
}
