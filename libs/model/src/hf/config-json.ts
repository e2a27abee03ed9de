// Hugging Face `config.json` <-> LlamaConfig for the Llama family (llama, qwen2, qwen3).
// What differs between the three is data in ARCHITECTURES below; everything else is one code path.
// Defaults for absent fields are the transformers config classes' own defaults, so an old or hand-written
// config means what transformers would make of it; fields that change the architecture in ways our
// decoder does not implement (rope scaling, o_proj bias, MLP bias, sliding windows) are refused.
import { type LlamaConfig, type ModelType } from "../config.js";

export class ModelConfigError extends Error {
  override name = "ModelConfigError";
}

interface Architecture {
  /** transformers class written to `architectures` */
  className: string;
  /** Qwen2 always has q/k/v bias (hard-wired in its attention); llama/qwen3 take `attention_bias`, which
   *  there also puts a bias on o_proj — not implemented, so refused when true. */
  qkvBias: boolean;
  qkNorm: boolean;
  /** Qwen3 always writes head_dim; llama/qwen2 fall back to hidden_size / num_attention_heads. */
  headDimRequired: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** Keys transformers writes for this model type beyond the shared ones. */
  extraJson(c: LlamaConfig): Record<string, unknown>;
}

const slidingWindowOff = (c: LlamaConfig) => ({ use_sliding_window: false, sliding_window: null, max_window_layers: c.numLayers });

const ARCHITECTURES = {
  llama: {
    className: "LlamaForCausalLM", qkvBias: false, qkNorm: false, headDimRequired: false,
    maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenIds: [2],
    extraJson: () => ({ attention_bias: false, mlp_bias: false, pretraining_tp: 1 }),
  },
  qwen2: {
    className: "Qwen2ForCausalLM", qkvBias: true, qkNorm: false, headDimRequired: false,
    maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [],
    extraJson: slidingWindowOff,
  },
  qwen3: {
    className: "Qwen3ForCausalLM", qkvBias: false, qkNorm: true, headDimRequired: true,
    maxPositionEmbeddings: 32768, bosTokenId: null, eosTokenIds: [],
    extraJson: (c) => ({ attention_bias: false, ...slidingWindowOff(c) }),
  },
} satisfies Record<ModelType, Architecture>;

export const SUPPORTED_MODEL_TYPES = Object.keys(ARCHITECTURES) as ModelType[];
const SUPPORTED_ROPE_TYPES = ["default"];

/** Parses config.json text (or an already-parsed object) into a validated LlamaConfig. */
export function parseConfigJson(input: string | Record<string, unknown>, where = "config.json"): LlamaConfig {
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${where}: ${msg}`);
  };
  let j: Record<string, unknown>;
  if (typeof input === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (e) {
      fail(`not valid JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) fail("must be a JSON object");
    j = parsed as Record<string, unknown>;
  } else {
    j = input;
  }

  const modelType = j.model_type;
  if (modelType === undefined) fail(`missing field 'model_type' (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  if (typeof modelType !== "string" || !(modelType in ARCHITECTURES)) {
    fail(`model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  }
  const arch: Architecture = ARCHITECTURES[modelType as ModelType];
  const present = (k: string) => j[k] !== undefined && j[k] !== null;
  const posInt = (k: string): number => {
    if (!present(k)) fail(`missing field '${k}'`);
    const v = j[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) fail(`'${k}' must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const optional = <T>(k: string, dflt: T, read: (k: string) => T): T => (present(k) ? read(k) : dflt);
  const posNum = (k: string): number => {
    const v = j[k];
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) fail(`'${k}' must be a positive number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const bool = (k: string): boolean => {
    if (typeof j[k] !== "boolean") fail(`'${k}' must be true or false, got ${JSON.stringify(j[k])}`);
    return j[k] as boolean;
  };
  const tokenId = (k: string): number => {
    const v = j[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(`'${k}' must be a token id, got ${JSON.stringify(v)}`);
    return v as number;
  };

  const hiddenSize = posInt("hidden_size");
  const numHeads = posInt("num_attention_heads");
  const numKvHeads = optional("num_key_value_heads", numHeads, posInt);
  if (numHeads % numKvHeads !== 0) {
    fail(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  let headDim: number;
  if (present("head_dim")) headDim = posInt("head_dim");
  else if (arch.headDimRequired) headDim = fail(`missing field 'head_dim' (required for model_type ${modelType})`);
  else if (hiddenSize % numHeads !== 0) headDim = fail(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}); set 'head_dim'`);
  else headDim = hiddenSize / numHeads;

  if (present("hidden_act") && j.hidden_act !== "silu") fail(`hidden_act ${JSON.stringify(j.hidden_act)} is not supported (supported: silu)`);
  if (present("mlp_bias") && bool("mlp_bias")) fail("mlp_bias = true is not supported (the MLP projections have no bias here)");
  if (!arch.qkvBias && present("attention_bias") && bool("attention_bias")) {
    fail(`attention_bias = true is not supported for model_type ${modelType} (it also puts a bias on o_proj)`);
  }
  if (present("use_sliding_window") && bool("use_sliding_window")) fail("use_sliding_window = true is not supported (full attention only)");

  const eos = j.eos_token_id;
  let eosTokenIds: number[];
  if (eos === undefined) eosTokenIds = [...arch.eosTokenIds];
  else if (eos === null) eosTokenIds = [];
  else if (Array.isArray(eos)) eosTokenIds = eos.map((_, i) => tokenIdAt(eos, i, fail));
  else eosTokenIds = [tokenId("eos_token_id")];

  const config: LlamaConfig = {
    modelType: modelType as ModelType,
    vocabSize: posInt("vocab_size"),
    hiddenSize,
    intermediateSize: posInt("intermediate_size"),
    numLayers: posInt("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: optional("rms_norm_eps", 1e-6, posNum),
    ropeTheta: ropeTheta(j, fail),
    maxPositionEmbeddings: optional("max_position_embeddings", arch.maxPositionEmbeddings, posInt),
    tieWordEmbeddings: optional("tie_word_embeddings", false, bool),
    attentionBias: arch.qkvBias,
    qkNorm: arch.qkNorm,
    bosTokenId: j.bos_token_id === undefined ? arch.bosTokenId : j.bos_token_id === null ? null : tokenId("bos_token_id"),
    eosTokenIds,
    padTokenId: present("pad_token_id") ? tokenId("pad_token_id") : null,
  };
  validateLlamaConfig(config, where);
  return config;
}

function tokenIdAt(arr: unknown[], i: number, fail: (m: string) => never): number {
  const v = arr[i];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(`'eos_token_id[${i}]' must be a token id, got ${JSON.stringify(v)}`);
  return v as number;
}

/** RoPE base from transformers v5's `rope_parameters` or the legacy top-level `rope_theta` + `rope_scaling`. */
function ropeTheta(j: Record<string, unknown>, fail: (m: string) => never): number {
  const params = j.rope_parameters ?? null;
  const scaling = j.rope_scaling ?? null;
  for (const [field, p] of [["rope_parameters", params], ["rope_scaling", scaling]] as const) {
    if (p === null) continue;
    if (typeof p !== "object" || Array.isArray(p)) fail(`'${field}' must be an object, got ${JSON.stringify(p)}`);
    const o = p as Record<string, unknown>;
    const type = o.rope_type ?? o.type ?? "default";
    if (typeof type !== "string" || !SUPPORTED_ROPE_TYPES.includes(type)) {
      fail(`${field}.rope_type ${JSON.stringify(type)}: rope scaling is not supported (supported: ${SUPPORTED_ROPE_TYPES.join(", ")})`);
    }
    const partial = o.partial_rotary_factor;
    if (partial !== undefined && partial !== 1 && partial !== 1.0) fail(`${field}.partial_rotary_factor ${JSON.stringify(partial)} is not supported (only 1)`);
  }
  const fromParams = params && (params as Record<string, unknown>).rope_theta;
  const theta = fromParams ?? j.rope_theta;
  if (theta === undefined || theta === null) fail("missing field 'rope_parameters.rope_theta' (or legacy 'rope_theta')");
  if (typeof theta !== "number" || !(theta > 0)) fail(`rope_theta must be a positive number, got ${JSON.stringify(theta)}`);
  if (fromParams != null && j.rope_theta != null && j.rope_theta !== fromParams) {
    fail(`'rope_theta' (${j.rope_theta}) disagrees with 'rope_parameters.rope_theta' (${fromParams})`);
  }
  return theta as number;
}

/** Checks a LlamaConfig's own consistency (sizes, divisibility, flags matching the model type). */
export function validateLlamaConfig(c: LlamaConfig, where = "LlamaConfig"): void {
  const fail = (msg: string): never => {
    throw new ModelConfigError(`${where}: ${msg}`);
  };
  const arch: Architecture | undefined = (ARCHITECTURES as Record<string, Architecture>)[c.modelType];
  if (!arch) fail(`modelType '${c.modelType}' is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(", ")})`);
  for (const k of ["vocabSize", "hiddenSize", "intermediateSize", "numLayers", "numHeads", "numKvHeads", "headDim", "maxPositionEmbeddings"] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail(`${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.numHeads % c.numKvHeads !== 0) fail(`numHeads (${c.numHeads}) must be a multiple of numKvHeads (${c.numKvHeads})`);
  if (c.headDim % 2 !== 0) fail(`headDim (${c.headDim}) must be even for rotary embeddings`);
  if (!(c.rmsNormEps > 0)) fail(`rmsNormEps must be positive, got ${c.rmsNormEps}`);
  if (!(c.ropeTheta > 0)) fail(`ropeTheta must be positive, got ${c.ropeTheta}`);
  if (c.attentionBias !== arch.qkvBias) fail(`attentionBias must be ${arch.qkvBias} for modelType ${c.modelType}`);
  if (c.qkNorm !== arch.qkNorm) fail(`qkNorm must be ${arch.qkNorm} for modelType ${c.modelType}`);
  for (const [k, id] of [["bosTokenId", c.bosTokenId], ["padTokenId", c.padTokenId], ...c.eosTokenIds.map((e) => ["eosTokenIds", e] as const)] as const) {
    if (id !== null && (!Number.isInteger(id) || id < 0 || id >= c.vocabSize)) fail(`${k} ${id} is outside the vocabulary [0, ${c.vocabSize})`);
  }
}

/** The config.json transformers writes for this config (v5 keys, plus legacy `rope_theta` for v4). */
export function configToJson(c: LlamaConfig): Record<string, unknown> {
  validateLlamaConfig(c);
  const arch: Architecture = ARCHITECTURES[c.modelType];
  const out: Record<string, unknown> = {
    architectures: [arch.className],
    model_type: c.modelType,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: "silu",
    rms_norm_eps: c.rmsNormEps,
    rope_parameters: { rope_theta: c.ropeTheta, rope_type: "default" },
    rope_theta: c.ropeTheta,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_dropout: 0.0,
    initializer_range: 0.02,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds.length === 0 ? null : c.eosTokenIds,
    pad_token_id: c.padTokenId,
    dtype: "float32",
    use_cache: true,
    ...arch.extraJson(c),
  };
  return out;
}

export function formatConfigJson(c: LlamaConfig): string {
  return JSON.stringify(configToJson(c), null, 2) + "\n";
}
