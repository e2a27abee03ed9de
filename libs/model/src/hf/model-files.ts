// A Hugging Face model directory as named files <-> an in-memory model. Pure: the caller reads files
// through `read(name)` and writes the returned bytes (libs/tasks' readModelDir/writeModelDir do the I/O).
//
// Layout (what transformers' save_pretrained writes and from_pretrained reads):
//   config.json                       required
//   model.safetensors                 or model.safetensors.index.json + the shards it names
//   tokenizer.json                    required (fast tokenizer)
//   tokenizer_config.json             optional, carried through
//   generation_config.json            optional
import { type LlamaConfig } from "../config.js";
import { type Weights } from "../tensor.js";
import { loadTokenizer } from "../tokenizer/tokenizer.js";
import { formatConfigJson, parseConfigJson } from "./config-json.js";
import { type GenerationConfig, formatGenerationConfig, parseGenerationConfig } from "./generation-config.js";
import { expectedParameters, validateWeights, weightsFromCheckpoint } from "./params.js";
import { type ByteSource, concatParts, parseSafetensors, safetensorsParts, storedBytes } from "./safetensors.js";
import { SHARD_INDEX_FILE, parseShardIndex, readShardedSafetensors, shardedSafetensorsParts } from "./sharded.js";

export class ModelFilesError extends Error {
  override name = "ModelFilesError";
}

export interface HfModel {
  config: LlamaConfig;
  weights: Weights;
  /** tokenizer.json text, kept verbatim so a saved model tokenizes exactly as the loaded one. */
  tokenizerJson: string;
  /** tokenizer_config.json text, or null when the directory has none. */
  tokenizerConfigJson: string | null;
  generationConfig: GenerationConfig | null;
}

export const MODEL_FILES = {
  config: "config.json",
  weights: "model.safetensors",
  shardIndex: SHARD_INDEX_FILE,
  tokenizer: "tokenizer.json",
  tokenizerConfig: "tokenizer_config.json",
  generationConfig: "generation_config.json",
} as const;

/** Reads a model from its files. `read(name)` returns a file's bytes, or a ByteSource over them (weights
 *  files are then read tensor by tensor, never whole), or null when it does not exist; `where` (the
 *  directory) prefixes error messages. */
export function decodeModelFiles(read: (name: string) => Uint8Array | ByteSource | null, where = "."): HfModel {
  const at = (f: string) => `${where}/${f}`;
  const text = (f: string) => {
    const b = read(f);
    return b === null ? null : new TextDecoder().decode(b instanceof Uint8Array ? b : b.read(0, b.byteLength));
  };
  const required = (f: string) => {
    const t = text(f);
    if (t === null) throw new ModelFilesError(`${at(f)} is missing (a Hugging Face model directory needs ${MODEL_FILES.config}, ${MODEL_FILES.weights} or ${SHARD_INDEX_FILE}, and ${MODEL_FILES.tokenizer})`);
    return t;
  };

  const config = parseConfigJson(required(MODEL_FILES.config), at(MODEL_FILES.config));
  const tokenizerJson = required(MODEL_FILES.tokenizer);
  const tokenizerConfigJson = text(MODEL_FILES.tokenizerConfig);
  const tokenizer = loadTokenizer(tokenizerJson, tokenizerConfigJson, at(MODEL_FILES.tokenizer));
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new ModelFilesError(`${at(MODEL_FILES.tokenizer)} has ${tokenizer.vocabSize} tokens but ${MODEL_FILES.config} declares vocab_size ${config.vocabSize}`);
  }
  const gen = text(MODEL_FILES.generationConfig);
  const generationConfig = gen === null ? null : parseGenerationConfig(gen, at(MODEL_FILES.generationConfig));

  let weights: Weights;
  const single = read(MODEL_FILES.weights);
  if (single !== null) {
    // Lazy: each tensor is read from its file as it is decoded, so loading holds the decoded model and one
    // tensor's raw bytes, not the whole file besides (weightsFromCheckpoint decodes each entry once).
    weights = weightsFromCheckpoint(parseSafetensors(single, at(MODEL_FILES.weights), { lazy: true }).tensors, config, at(MODEL_FILES.weights));
  } else {
    const indexText = text(SHARD_INDEX_FILE);
    if (indexText === null) {
      const torchOnly = read("pytorch_model.bin") !== null || read("pytorch_model.bin.index.json") !== null;
      throw new ModelFilesError(`${where}: no ${MODEL_FILES.weights} or ${SHARD_INDEX_FILE}${torchOnly ? " (only PyTorch .bin weights, which we do not read: re-save with safe_serialization=True)" : ""}`);
    }
    const index = parseShardIndex(indexText, at(SHARD_INDEX_FILE));
    const entries = readShardedSafetensors(index, (f) => {
      const b = read(f);
      if (b === null) throw new ModelFilesError(`${at(f)} is missing (named by ${SHARD_INDEX_FILE})`);
      return b;
    }, { lazy: true });
    weights = weightsFromCheckpoint(entries, config, at(SHARD_INDEX_FILE));
  }
  return { config, weights, tokenizerJson, tokenizerConfigJson, generationConfig };
}

export interface EncodeModelOptions {
  /** Split weights into shards of at most this many bytes (default: one model.safetensors). */
  maxShardBytes?: number;
  /** Storage dtype of the weights: fp32 (default) or bf16 (half the bytes; reading widens back exactly). */
  dtype?: "fp32" | "bf16";
  /** Always write the sharded form (model.safetensors.index.json and its shards), even for one shard. */
  sharded?: boolean;
}

/** The files of a model directory, as transformers writes them: float32 safetensors with
 *  `{"format": "pt"}` metadata (transformers refuses to load safetensors without it). */
export function encodeModelFiles(model: HfModel, options: EncodeModelOptions = {}): Map<string, Uint8Array> {
  return new Map([...encodeModelFileParts(model, options)].map(([name, parts]) => [name, concatParts(parts)]));
}

/** encodeModelFiles with each file as parts to write in turn (weights: views of the tensors' data), so no
 *  file, however large, is ever one buffer. */
export function encodeModelFileParts(model: HfModel, options: EncodeModelOptions = {}): Map<string, Uint8Array[]> {
  const { config, weights } = model;
  validateWeights(weights, config, "model weights");
  const enc = (s: string) => [new TextEncoder().encode(s)];
  const files = new Map<string, Uint8Array[]>();
  files.set(MODEL_FILES.config, enc(formatConfigJson(config)));

  const ordered = [...expectedParameters(config).keys()].map((n) => [n, weights.get(n)!] as const);
  const write = { float32As: options.dtype === "bf16" ? ("BF16" as const) : ("F32" as const) };
  const total = ordered.reduce((n, [, t]) => n + storedBytes(t, write), 0);
  if (options.sharded || (options.maxShardBytes !== undefined && total > options.maxShardBytes)) {
    const { indexJson, shards } = shardedSafetensorsParts(ordered, options.maxShardBytes ?? Infinity, { format: "pt" }, write);
    files.set(SHARD_INDEX_FILE, enc(indexJson));
    for (const [f, b] of shards) files.set(f, b);
  } else {
    files.set(MODEL_FILES.weights, safetensorsParts(ordered, { format: "pt" }, write));
  }

  files.set(MODEL_FILES.tokenizer, enc(model.tokenizerJson));
  files.set(MODEL_FILES.tokenizerConfig, enc(model.tokenizerConfigJson ?? defaultTokenizerConfig(model)));
  if (model.generationConfig) files.set(MODEL_FILES.generationConfig, enc(formatGenerationConfig(model.generationConfig)));
  return files;
}

/** A tokenizer_config.json that makes transformers' AutoTokenizer load tokenizer.json as a plain fast
 *  tokenizer (no class-specific BOS/EOS handling) with our special tokens and lossless decoding. */
function defaultTokenizerConfig(model: HfModel): string {
  const tok = loadTokenizer(model.tokenizerJson);
  const special = (id: number | null | undefined) => (id != null && tok.specialIds.has(id) ? tok.idToToken(id) : undefined);
  const c = model.config, g = model.generationConfig;
  const cfg: Record<string, unknown> = {
    tokenizer_class: "PreTrainedTokenizerFast",
    clean_up_tokenization_spaces: false,
    model_max_length: c.maxPositionEmbeddings,
    bos_token: special(g?.bosTokenId ?? c.bosTokenId),
    eos_token: special(g?.eosTokenIds[0] ?? c.eosTokenIds[0]),
    pad_token: special(g?.padTokenId ?? c.padTokenId),
  };
  return JSON.stringify(cfg, null, 2) + "\n";
}
