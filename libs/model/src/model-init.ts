// A fresh model from a small spec (what `lspo model init --config` reads, YAML or JSON):
//
//   seed: 0                      # random init seed (default 0)
//   initializer_range: 0.02      # std of the normal init (default 0.02, transformers' default)
//   tokenizer:
//     words: [apples, ...]       # whole-word tokens of the demo tokenizer (default: DEFAULT_DEMO_WORDS)
//   model:                       # config.json keys of the Llama family
//     model_type: llama
//     hidden_size: 64
//     ...
//
// vocab_size defaults to the demo tokenizer's size; pad/eos default to its `<|pad|>` (0) and
// `<|endoftext|>` (1); rope_theta to 10000. Unknown keys are errors that list the valid ones.
import { type LlamaConfig } from "./config.js";
import { type GenerationConfig } from "./hf/generation-config.js";
import { parseConfigJson } from "./hf/config-json.js";
import { type HfModel } from "./hf/model-files.js";
import { initModel } from "./init.js";
import { buildDemoTokenizerJson } from "./tokenizer/demo.js";
import { loadTokenizer } from "./tokenizer/tokenizer.js";

export class ModelSpecError extends Error {
  override name = "ModelSpecError";
}

const SPEC_KEYS = ["seed", "initializer_range", "tokenizer", "model"];
const TOKENIZER_KEYS = ["words"];
const MODEL_KEYS = [
  "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
  "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta", "rope_parameters", "max_position_embeddings",
  "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id", "hidden_act", "attention_bias",
];

function checkKeys(o: unknown, allowed: string[], where: string): Record<string, unknown> {
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new ModelSpecError(`${where} must be a mapping`);
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ModelSpecError(`${where}: unknown key '${k}' (valid: ${allowed.join(", ")})`);
  }
  return o as Record<string, unknown>;
}

/** Builds a randomly initialised model with the demo tokenizer from a parsed spec object. */
export function createModelFromSpec(spec: unknown, where = "model spec"): HfModel {
  const s = checkKeys(spec, SPEC_KEYS, where);
  if (s.model === undefined) throw new ModelSpecError(`${where}: missing 'model' (config.json keys: model_type, hidden_size, ...)`);
  const m = checkKeys(s.model, MODEL_KEYS, `${where}: model`);
  const t = s.tokenizer === undefined ? {} : checkKeys(s.tokenizer, TOKENIZER_KEYS, `${where}: tokenizer`);
  const seed = s.seed ?? 0;
  if (typeof seed !== "number") throw new ModelSpecError(`${where}: 'seed' must be a number, got ${JSON.stringify(seed)}`);
  const std = s.initializer_range ?? 0.02;
  if (typeof std !== "number" || !(std > 0)) throw new ModelSpecError(`${where}: 'initializer_range' must be a positive number, got ${JSON.stringify(std)}`);
  if (t.words !== undefined && (!Array.isArray(t.words) || !t.words.every((w) => typeof w === "string"))) {
    throw new ModelSpecError(`${where}: tokenizer.words must be a list of words`);
  }

  const tokenizerJson = buildDemoTokenizerJson({ words: t.words as string[] | undefined });
  const tokenizer = loadTokenizer(tokenizerJson);
  const pad = tokenizer.tokenToId("<|pad|>")!, eos = tokenizer.tokenToId("<|endoftext|>")!;
  const config = parseConfigJson({
    rope_theta: 10000, bos_token_id: null, eos_token_id: eos, pad_token_id: pad, vocab_size: tokenizer.vocabSize, ...m,
  }, `${where}: model`);
  return randomModel(config, tokenizerJson, null, seed, std, where, "model.vocab_size");
}

/** Random weights for `config` beside a tokenizer no larger than its vocabulary; errors start with `where`
 *  and call the vocabulary size by its key there (`vocabKey`). */
function randomModel(config: LlamaConfig, tokenizerJson: string, tokenizerConfigJson: string | null, seed: number, std: number, where: string, vocabKey: string): HfModel {
  const tokenizer = loadTokenizer(tokenizerJson, tokenizerConfigJson, "tokenizer.json");
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new ModelSpecError(`${where}: ${vocabKey} ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize} tokens`);
  }
  let weights;
  try {
    weights = initModel(config, seed, { initializerRange: std });
  } catch (e) {
    throw new ModelSpecError(`${where}: ${(e as Error).message}`);
  }
  const generationConfig: GenerationConfig = {
    bosTokenId: config.bosTokenId, eosTokenIds: config.eosTokenIds, padTokenId: config.padTokenId,
    doSample: null, temperature: null, topP: null, topK: null, maxNewTokens: null,
  };
  return { config, weights, tokenizerJson, tokenizerConfigJson, generationConfig };
}

export interface HfConfigInitOptions {
  /** tokenizer.json to ship with the model (default: the demo tokenizer). */
  tokenizerJson?: string;
  tokenizerConfigJson?: string | null;
  seed?: number;
  initializerRange?: number;
}

/**
 * A randomly initialised model of any supported architecture from a Hugging Face `config.json` (Qwen2.5,
 * Llama, ...), sized exactly as the config says: what real-size tests and benchmarks start from without
 * downloading weights. The vocabulary may be larger than the tokenizer (ids past it are never produced by
 * encoding, and are fine to generate); a smaller one is refused.
 */
export function createModelFromHfConfig(configJson: string | Record<string, unknown>, options: HfConfigInitOptions = {}, where = "config.json"): HfModel {
  const config = parseConfigJson(configJson, where);
  const tokenizerJson = options.tokenizerJson ?? buildDemoTokenizerJson();
  return randomModel(config, tokenizerJson, options.tokenizerConfigJson ?? null, options.seed ?? 0, options.initializerRange ?? 0.02, where, "vocab_size");
}
