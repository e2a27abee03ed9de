import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { ModelConfigError, configToJson, parseConfigJson, validateLlamaConfig } from "../src/hf/config-json.js";
import { fixtureText } from "./support/fixture.js";

const base = {
  model_type: "llama", vocab_size: 100, hidden_size: 32, intermediate_size: 48,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, rope_theta: 10000,
};
const parse = (over: Record<string, unknown>) => parseConfigJson({ ...base, ...over });

describe("config.json - the fixture", () => {
  it("parses transformers 5's llama config", () => {
    expect(parseConfigJson(fixtureText("config.json"))).toEqual({
      modelType: "llama", vocabSize: 384, hiddenSize: 64, intermediateSize: 160, numLayers: 2,
      numHeads: 4, numKvHeads: 2, headDim: 16, rmsNormEps: 1e-6, ropeTheta: 10000,
      maxPositionEmbeddings: 256, tieWordEmbeddings: false, attentionBias: false, qkNorm: false,
      bosTokenId: 1, eosTokenIds: [2], padTokenId: null,
    } satisfies LlamaConfig);
  });

  it("writes back every architecture key the fixture has, with the same values", () => {
    const fixture = JSON.parse(fixtureText("config.json")) as Record<string, unknown>;
    const written = configToJson(parseConfigJson(fixture));
    const ignored = new Set(["transformers_version"]);
    for (const [k, v] of Object.entries(fixture)) {
      if (!ignored.has(k)) expect(written[k], k).toEqual(v);
    }
  });
});

describe("config.json - the family", () => {
  it("qwen2: q/k/v bias always, head_dim from hidden/heads, tied embeddings and legacy rope_theta", () => {
    const c = parseConfigJson({
      model_type: "qwen2", vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24,
      num_attention_heads: 14, num_key_value_heads: 2, rope_theta: 1000000.0, rope_scaling: null,
      tie_word_embeddings: true, use_sliding_window: false, sliding_window: 32768, bos_token_id: 151643,
      eos_token_id: 151643, rms_norm_eps: 1e-6, max_position_embeddings: 32768, hidden_act: "silu",
    });
    expect(c).toMatchObject({ modelType: "qwen2", headDim: 64, attentionBias: true, qkNorm: false, tieWordEmbeddings: true, ropeTheta: 1e6, eosTokenIds: [151643] });
  });

  it("qwen3: q/k norm, head_dim from config (not hidden/heads), eos list", () => {
    const c = parseConfigJson({
      model_type: "qwen3", vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28,
      num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, attention_bias: false,
      rope_parameters: { rope_type: "default", rope_theta: 1000000 }, eos_token_id: [151645, 151643], tie_word_embeddings: true,
    });
    expect(c).toMatchObject({ modelType: "qwen3", headDim: 128, qkNorm: true, attentionBias: false, eosTokenIds: [151645, 151643] });
  });

  it("round-trips every model type through config.json", () => {
    for (const over of [{}, { model_type: "qwen2", tie_word_embeddings: true }, { model_type: "qwen3", head_dim: 16, eos_token_id: [3, 4], pad_token_id: 0 }]) {
      const c = parse(over);
      expect(parseConfigJson(JSON.stringify(configToJson(c)))).toEqual(c);
    }
  });

  it("fills absent optional fields with transformers' class defaults", () => {
    const c = parseConfigJson({ model_type: "llama", vocab_size: 100, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 4, rope_theta: 500000 });
    expect(c).toMatchObject({ numKvHeads: 4, headDim: 8, rmsNormEps: 1e-6, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, bosTokenId: 1, eosTokenIds: [2], padTokenId: null });
  });
});

describe("config.json - bad input is refused, naming what is wrong", () => {
  const cases: Array<[string, Record<string, unknown> | string, RegExp]> = [
    ["not JSON", "{", /config\.json: not valid JSON/],
    ["no model_type", { ...base, model_type: undefined }, /missing field 'model_type' \(supported: llama, qwen2, qwen3\)/],
    ["unknown architecture", { ...base, model_type: "mistral" }, /model_type "mistral" is not supported \(supported: llama, qwen2, qwen3\)/],
    ["missing hidden_size", { ...base, hidden_size: undefined }, /missing field 'hidden_size'/],
    ["missing vocab_size", { ...base, vocab_size: undefined }, /missing field 'vocab_size'/],
    ["non-integer layers", { ...base, num_hidden_layers: 2.5 }, /'num_hidden_layers' must be a positive integer, got 2.5/],
    ["kv heads not dividing heads", { ...base, num_key_value_heads: 3 }, /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/],
    ["qwen3 without head_dim", { ...base, model_type: "qwen3" }, /missing field 'head_dim' \(required for model_type qwen3\)/],
    ["no rope theta", { ...base, rope_theta: undefined }, /missing field 'rope_parameters.rope_theta' \(or legacy 'rope_theta'\)/],
    ["yarn scaling", { ...base, rope_parameters: { rope_type: "yarn", rope_theta: 1e4, factor: 4 } }, /rope_parameters.rope_type "yarn": rope scaling is not supported \(supported: default\)/],
    ["legacy llama3 scaling", { ...base, rope_scaling: { rope_type: "llama3", factor: 32 } }, /rope_scaling.rope_type "llama3": rope scaling is not supported/],
    ["legacy linear scaling key 'type'", { ...base, rope_scaling: { type: "linear", factor: 2 } }, /rope_scaling.rope_type "linear"/],
    ["partial rotary", { ...base, rope_parameters: { rope_theta: 1e4, partial_rotary_factor: 0.5 } }, /partial_rotary_factor 0.5 is not supported/],
    ["gelu", { ...base, hidden_act: "gelu" }, /hidden_act "gelu" is not supported \(supported: silu\)/],
    ["llama attention_bias", { ...base, attention_bias: true }, /attention_bias = true is not supported for model_type llama \(it also puts a bias on o_proj\)/],
    ["mlp bias", { ...base, mlp_bias: true }, /mlp_bias = true is not supported/],
    ["sliding window", { ...base, model_type: "qwen2", use_sliding_window: true }, /use_sliding_window = true is not supported/],
    ["bad eos", { ...base, eos_token_id: [2, "x"] }, /'eos_token_id\[1\]' must be a token id/],
    ["eos outside vocab", { ...base, eos_token_id: 100 }, /eosTokenIds 100 is outside the vocabulary \[0, 100\)/],
    ["disagreeing thetas", { ...base, rope_theta: 1, rope_parameters: { rope_theta: 2 } }, /'rope_theta' \(1\) disagrees with 'rope_parameters.rope_theta' \(2\)/],
  ];
  for (const [what, input, message] of cases) {
    it(what, () => {
      expect(() => parseConfigJson(input)).toThrow(ModelConfigError);
      expect(() => parseConfigJson(input)).toThrow(message);
    });
  }

  it("validateLlamaConfig refuses flags that contradict the model type", () => {
    const c = parse({});
    expect(() => validateLlamaConfig({ ...c, attentionBias: true })).toThrow(/attentionBias must be false for modelType llama/);
    expect(() => validateLlamaConfig({ ...c, modelType: "qwen3", qkNorm: false })).toThrow(/qkNorm must be true for modelType qwen3/);
    expect(() => validateLlamaConfig({ ...c, headDim: 7 })).toThrow(/headDim \(7\) must be even/);
  });
});
