import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { decodeModelFiles, encodeModelFiles } from "../src/hf/model-files.js";
import { initModel } from "../src/init.js";
import { DEFAULT_DEMO_WORDS, buildDemoTokenizerJson } from "../src/tokenizer/demo.js";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";

describe("demo tokenizer", () => {
  const json = buildDemoTokenizerJson();
  const tok = loadTokenizer(json);

  it("has the two special tokens first, then 256 bytes, then the word tokens", () => {
    expect(tok.tokenToId("<|pad|>")).toBe(0);
    expect(tok.tokenToId("<|endoftext|>")).toBe(1);
    expect([...tok.specialIds].sort()).toEqual([0, 1]);
    expect(tok.vocabSize).toBeGreaterThan(258);
    expect(tok.vocabSize).toBeLessThan(1000);
  });

  it("gives every listed word one token, with and without a leading space", () => {
    for (const w of DEFAULT_DEMO_WORDS) {
      expect(tok.encode(w), w).toHaveLength(1);
      expect(tok.encode(` ${w}`), ` ${w}`).toHaveLength(1);
    }
    // A v a | " has" | " " 1 2 | " apples" | .
    expect(tok.encode("Ava has 12 apples.")).toHaveLength(9);
  });

  it("keeps digits one token each", () => {
    const ids = tok.encode("12345");
    expect(ids).toHaveLength(5);
    expect(tok.decode(ids)).toBe("12345");
  });

  it("round-trips any text, unicode and specials included", () => {
    for (const s of ["", "The answer is \\boxed{42}.", "  spaces\tand\nnewlines ünïcode 😀", "x<|endoftext|>", "Finally: 7 * 8 = 56"]) {
      expect(tok.decode(tok.encode(s)), s).toBe(s);
    }
    expect(tok.decode(tok.encode("done<|endoftext|>"), { skipSpecialTokens: true })).toBe("done");
  });

  it("takes a custom word list and refuses non-words", () => {
    const t = loadTokenizer(buildDemoTokenizerJson({ words: ["zebra", "zebras", "Zorro"] }));
    expect(t.encode(" zebras zebra Zorro")).toHaveLength(3);
    expect(() => buildDemoTokenizerJson({ words: ["two words"] })).toThrow(/word "two words" must be letters only/);
    expect(() => buildDemoTokenizerJson({ words: ["x1"] })).toThrow(/letters only/);
  });

  it("is deterministic", () => {
    expect(buildDemoTokenizerJson()).toBe(json);
  });
});

describe("a fresh demo model directory (in memory)", () => {
  it("encodes and decodes back to the same config, weights and tokenizer", () => {
    const json = buildDemoTokenizerJson();
    const V = loadTokenizer(json).vocabSize;
    const config: LlamaConfig = {
      modelType: "llama", vocabSize: V, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
      headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 128, tieWordEmbeddings: true,
      attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
    };
    const weights = initModel(config, 1);
    const files = encodeModelFiles({ config, weights, tokenizerJson: json, tokenizerConfigJson: null, generationConfig: null });
    expect([...files.keys()].sort()).toEqual(["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    const back = decodeModelFiles((f) => files.get(f) ?? null, "mem");
    expect(back.config).toEqual(config);
    expect(back.tokenizerJson).toBe(json);
    for (const [k, t] of weights) expect(back.weights.get(k)!.data, k).toEqual(t.data);
    expect(JSON.parse(new TextDecoder().decode(files.get("tokenizer_config.json")!))).toMatchObject({ eos_token: "<|endoftext|>", pad_token: "<|pad|>" });
  });
});

describe("initModel", () => {
  const config: LlamaConfig = {
    modelType: "qwen2", vocabSize: 50, hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKvHeads: 2,
    headDim: 16, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: true,
    attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
  };

  it("draws N(0, 0.02) for matrices, zeros for biases, ones for norms, reproducibly", () => {
    const w = initModel(config, 7);
    expect(initModel(config, 7).get("model.layers.1.mlp.up_proj.weight")!.data).toEqual(w.get("model.layers.1.mlp.up_proj.weight")!.data);
    expect(initModel(config, 8).get("model.layers.1.mlp.up_proj.weight")!.data).not.toEqual(w.get("model.layers.1.mlp.up_proj.weight")!.data);
    const all = [...w].filter(([n]) => /proj\.weight$|embed_tokens/.test(n)).flatMap(([, t]) => Array.from(t.data));
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
    expect(all.length).toBeGreaterThan(40_000);
    expect(Math.abs(mean)).toBeLessThan(0.0005); // sd of the mean ~ 0.0001
    expect(Math.abs(sd - 0.02)).toBeLessThan(0.0005);
    const within1sd = all.filter((x) => Math.abs(x) < 0.02).length / all.length;
    expect(Math.abs(within1sd - 0.6827)).toBeLessThan(0.01);
    expect(Array.from(w.get("model.layers.0.self_attn.q_proj.bias")!.data).every((x) => x === 0)).toBe(true);
    expect(Array.from(w.get("model.layers.0.input_layernorm.weight")!.data).every((x) => x === 1)).toBe(true);
    expect(Array.from(w.get("model.norm.weight")!.data).every((x) => x === 1)).toBe(true);
  });
});
