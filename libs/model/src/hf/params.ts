// The parameters a Llama-family checkpoint holds (Hugging Face names and shapes), and the checks that a
// Weights map is exactly that set. D = hidden, H = heads, K = kv heads, hd = head_dim, I = intermediate,
// V = vocab; nn.Linear weights are [out, in].
import { type LlamaConfig } from "../config.js";
import { type Tensor, type Weights } from "../tensor.js";
import { type SafetensorsEntry, decodeEntry } from "./safetensors.js";

export class WeightsError extends Error {
  override name = "WeightsError";
}

/** Every parameter name -> shape, in the order transformers registers them. */
export function expectedParameters(c: LlamaConfig): Map<string, number[]> {
  const D = c.hiddenSize, H = c.numHeads, K = c.numKvHeads, hd = c.headDim, I = c.intermediateSize, V = c.vocabSize;
  const p = new Map<string, number[]>();
  p.set("model.embed_tokens.weight", [V, D]);
  for (let l = 0; l < c.numLayers; l++) {
    const a = `model.layers.${l}.self_attn`;
    p.set(`${a}.q_proj.weight`, [H * hd, D]);
    if (c.attentionBias) p.set(`${a}.q_proj.bias`, [H * hd]);
    p.set(`${a}.k_proj.weight`, [K * hd, D]);
    if (c.attentionBias) p.set(`${a}.k_proj.bias`, [K * hd]);
    p.set(`${a}.v_proj.weight`, [K * hd, D]);
    if (c.attentionBias) p.set(`${a}.v_proj.bias`, [K * hd]);
    p.set(`${a}.o_proj.weight`, [D, H * hd]);
    if (c.qkNorm) {
      p.set(`${a}.q_norm.weight`, [hd]);
      p.set(`${a}.k_norm.weight`, [hd]);
    }
    const m = `model.layers.${l}.mlp`;
    p.set(`${m}.gate_proj.weight`, [I, D]);
    p.set(`${m}.up_proj.weight`, [I, D]);
    p.set(`${m}.down_proj.weight`, [D, I]);
    p.set(`model.layers.${l}.input_layernorm.weight`, [D]);
    p.set(`model.layers.${l}.post_attention_layernorm.weight`, [D]);
  }
  p.set("model.norm.weight", [D]);
  if (!c.tieWordEmbeddings) p.set("lm_head.weight", [V, D]);
  return p;
}

/** Total parameter count (tied embeddings counted once). */
export function parameterCount(c: LlamaConfig): number {
  let n = 0;
  for (const s of expectedParameters(c).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/** Throws one WeightsError listing every missing, unexpected, mis-shaped or non-float32 tensor. */
export function validateWeights(weights: ReadonlyMap<string, Tensor>, c: LlamaConfig, where = "weights"): void {
  const want = expectedParameters(c);
  const problems: string[] = [];
  for (const [name, shape] of want) {
    const t = weights.get(name);
    if (!t) problems.push(`missing '${name}' [${shape.join(",")}]`);
    else if (t.dtype !== "float32") problems.push(`'${name}' is ${t.dtype}, expected float32`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`'${name}' has shape [${t.shape.join(",")}], expected [${shape.join(",")}]`);
    }
  }
  for (const name of weights.keys()) {
    if (!want.has(name)) problems.push(`unexpected '${name}'${c.tieWordEmbeddings && name === "lm_head.weight" ? " (embeddings are tied)" : ""}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join("; ");
    const more = problems.length > 20 ? `; and ${problems.length - 20} more` : "";
    throw new WeightsError(`${where} do not match the ${c.modelType} config (${problems.length} problem(s)): ${shown}${more}`);
  }
}

/** Non-parameter buffers some checkpoints carry (old transformers saved RoPE's inv_freq): dropped on load. */
const IGNORED_BUFFERS = /(^|\.)rotary_emb\.inv_freq$/;

/** Checkpoint tensors -> validated float32 Weights in canonical order. Half/double precision is converted
 *  to float32. With tied embeddings a stored `lm_head.weight` is accepted only when it equals
 *  `embed_tokens` (transformers would silently overwrite a different one; we refuse instead). */
export function weightsFromCheckpoint(entries: ReadonlyMap<string, SafetensorsEntry>, c: LlamaConfig, where = "checkpoint", opts: { copy?: boolean } = {}): Weights {
  const decoded = new Map<string, Tensor>();
  for (const [name, entry] of entries) {
    if (IGNORED_BUFFERS.test(name)) continue;
    const t = decodeEntry(entry, opts);
    if (t.dtype === "float64") decoded.set(name, { dtype: "float32", shape: t.shape, data: Float32Array.from(t.data) });
    else if (t.dtype === "float32") decoded.set(name, t);
    else throw new WeightsError(`${where}: tensor '${name}' has integer/bool dtype ${entry.dtype}; parameters must be floating point`);
  }
  if (c.tieWordEmbeddings && decoded.has("lm_head.weight")) {
    const head = decoded.get("lm_head.weight")!, emb = decoded.get("model.embed_tokens.weight");
    if (!emb || !sameValues(head, emb)) {
      throw new WeightsError(`${where}: 'lm_head.weight' differs from 'model.embed_tokens.weight' but config.json ties the embeddings`);
    }
    decoded.delete("lm_head.weight");
  }
  validateWeights(decoded, c, where);
  const out: Weights = new Map();
  for (const name of expectedParameters(c).keys()) out.set(name, decoded.get(name) as Tensor<"float32">);
  return out;
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.data.length !== b.data.length || a.shape.join() !== b.shape.join()) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
