import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import { parseConfigJson } from "../src/hf/config-json.js";
import { WeightsError, expectedParameters, parameterCount, validateWeights, weightsFromCheckpoint } from "../src/hf/params.js";
import { parseSafetensors, serializeSafetensors } from "../src/hf/safetensors.js";
import { SHARD_INDEX_FILE, parseShardIndex, readShardedSafetensors, writeShardedSafetensors } from "../src/hf/sharded.js";
import { type Tensor, type Weights, numel, tensor } from "../src/tensor.js";
import { fixtureBytes, fixtureText } from "./support/fixture.js";

const tiny = (over: Partial<LlamaConfig> = {}): LlamaConfig => ({
  modelType: "llama", vocabSize: 11, hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 2, numKvHeads: 1,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: false,
  attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0, ...over,
});

/** Weights with the expected shapes and distinct values per tensor. */
function weightsFor(c: LlamaConfig): Weights {
  const w: Weights = new Map();
  let k = 0;
  for (const [name, shape] of expectedParameters(c)) {
    k++;
    w.set(name, tensor("float32", shape, Float32Array.from({ length: numel(shape) }, (_, i) => k + i / 1000)));
  }
  return w;
}

describe("parameters - names and shapes per architecture", () => {
  it("llama: 9 tensors per layer + embed, norm, lm_head", () => {
    const p = expectedParameters(tiny());
    expect(p.size).toBe(2 * 9 + 3);
    expect(p.get("model.layers.1.self_attn.k_proj.weight")).toEqual([4, 8]);
    expect(p.get("model.layers.0.mlp.down_proj.weight")).toEqual([8, 12]);
    expect(p.get("lm_head.weight")).toEqual([11, 8]);
  });
  it("qwen2 adds q/k/v biases and ties lm_head away; qwen3 adds q/k norms", () => {
    const q2 = expectedParameters(tiny({ modelType: "qwen2", attentionBias: true, tieWordEmbeddings: true }));
    expect(q2.get("model.layers.0.self_attn.q_proj.bias")).toEqual([8]);
    expect(q2.get("model.layers.0.self_attn.v_proj.bias")).toEqual([4]);
    expect(q2.has("model.layers.0.self_attn.o_proj.bias")).toBe(false);
    expect(q2.has("lm_head.weight")).toBe(false);
    const q3 = expectedParameters(tiny({ modelType: "qwen3", qkNorm: true }));
    expect(q3.get("model.layers.1.self_attn.k_norm.weight")).toEqual([4]);
  });
  it("counts parameters", () => {
    // embed 88 + lm_head 88 + norm 8 + 2 * (q 64 + k 32 + v 32 + o 64 + 3*96 mlp + 16 norms)
    expect(parameterCount(tiny())).toBe(88 + 88 + 8 + 2 * (64 + 32 + 32 + 64 + 288 + 16));
  });
});

describe("parameters - validation names the tensor", () => {
  const c = tiny();
  it("accepts exactly the expected set", () => {
    expect(() => validateWeights(weightsFor(c), c)).not.toThrow();
  });
  it("reports missing, extra, mis-shaped and wrong-dtype tensors together", () => {
    const w = weightsFor(c) as Map<string, Tensor>;
    w.delete("model.norm.weight");
    w.set("model.layers.0.mlp.extra.weight", tensor("float32", [1], new Float32Array(1)));
    w.set("model.layers.1.self_attn.q_proj.weight", tensor("float32", [8, 9], new Float32Array(72)));
    w.set("lm_head.weight", tensor("float64", [11, 8], new Float64Array(88)));
    const err = (() => { try { validateWeights(w, c); } catch (e) { return e as Error; } })();
    expect(err).toBeInstanceOf(WeightsError);
    expect(err!.message).toContain("4 problem(s)");
    expect(err!.message).toContain("missing 'model.norm.weight' [8]");
    expect(err!.message).toContain("unexpected 'model.layers.0.mlp.extra.weight'");
    expect(err!.message).toContain("'model.layers.1.self_attn.q_proj.weight' has shape [8,9], expected [8,8]");
    expect(err!.message).toContain("'lm_head.weight' is float64, expected float32");
  });
});

describe("checkpoint -> weights", () => {
  const toEntries = (w: Iterable<readonly [string, Tensor]>) => parseSafetensors(serializeSafetensors(w)).tensors;

  it("drops legacy rotary inv_freq buffers and returns canonical order", () => {
    const c = tiny();
    const w = weightsFor(c);
    const entries = toEntries([...w, ["model.layers.0.self_attn.rotary_emb.inv_freq", tensor("float32", [2], new Float32Array(2))]]);
    const got = weightsFromCheckpoint(entries, c);
    expect([...got.keys()]).toEqual([...expectedParameters(c).keys()]);
    expect(Array.from(got.get("model.norm.weight")!.data)).toEqual(Array.from(w.get("model.norm.weight")!.data));
  });

  it("with tied embeddings accepts an lm_head equal to embed_tokens and refuses a different one", () => {
    const c = tiny({ modelType: "qwen2", attentionBias: true, tieWordEmbeddings: true });
    const w = weightsFor(c);
    const emb = w.get("model.embed_tokens.weight")!;
    expect(weightsFromCheckpoint(toEntries([...w, ["lm_head.weight", emb]]), c).has("lm_head.weight")).toBe(false);
    const other = tensor("float32", emb.shape, emb.data.map((x) => x + 1));
    expect(() => weightsFromCheckpoint(toEntries([...w, ["lm_head.weight", other]]), c)).toThrow(/'lm_head.weight' differs from 'model.embed_tokens.weight' but config.json ties/);
  });

  it("converts float64 parameters to float32 and refuses integer ones by name", () => {
    const c = tiny();
    const w = [...weightsFor(c)].map(([n, t]) => [n, n === "model.norm.weight" ? tensor("float64", t.shape, Float64Array.from(t.data)) : t] as const);
    expect(weightsFromCheckpoint(toEntries(w), c).get("model.norm.weight")!.dtype).toBe("float32");
    const bad = [...weightsFor(c)].map(([n, t]) => [n, n === "model.norm.weight" ? tensor("int32", t.shape, new Int32Array(t.shape[0])) : t] as const);
    expect(() => weightsFromCheckpoint(toEntries(bad), c, "model.safetensors")).toThrow(/model.safetensors: tensor 'model.norm.weight' has integer\/bool dtype I32/);
  });

  it("loads the fixture's model.safetensors against its config", () => {
    const c = parseConfigJson(fixtureText("config.json"));
    const w = weightsFromCheckpoint(parseSafetensors(fixtureBytes("model.safetensors")).tensors, c);
    expect(w.size).toBe(21);
    expect([...w.values()].reduce((n, t) => n + t.data.length, 0)).toBe(parameterCount(c));
  });
});

describe("sharded checkpoints", () => {
  const c = tiny();
  const w = weightsFor(c);

  it("writes shards under the size limit with an index, and reads them back", () => {
    const { indexJson, shards } = writeShardedSafetensors(w, 700);
    expect(shards.size).toBeGreaterThan(2);
    const names = [...shards.keys()];
    expect(names[0]).toBe(`model-00001-of-${String(shards.size).padStart(5, "0")}.safetensors`);
    for (const bytes of shards.values()) {
      const f = parseSafetensors(bytes);
      const dataBytes = [...f.tensors.values()].reduce((n, e) => n + e.bytes.length, 0);
      expect(dataBytes <= 700 || f.tensors.size === 1).toBe(true);
      expect(f.metadata).toEqual({ format: "pt" });
    }
    const index = parseShardIndex(indexJson);
    expect(index.metadata.total_size).toBe(parameterCount(c) * 4);
    const back = weightsFromCheckpoint(readShardedSafetensors(index, (f) => shards.get(f)!), c);
    for (const [n, t] of w) expect(Array.from(back.get(n)!.data), n).toEqual(Array.from(t.data));
  });

  it("refuses an index that disagrees with its shards, naming file and tensor", () => {
    const { indexJson, shards } = writeShardedSafetensors(w, 700);
    const json = JSON.parse(indexJson);
    // move one tensor of a shard that holds several, so that shard is still read
    const files = Object.values(json.weight_map) as string[];
    const first = files.find((f) => files.filter((g) => g === f).length > 1)!;
    const second = [...shards.keys()].find((f) => f !== first)!;
    const moved = Object.keys(json.weight_map).find((k) => json.weight_map[k] === first)!;
    const wrongPlace = { ...json, weight_map: { ...json.weight_map, [moved]: second } };
    expect(() => readShardedSafetensors(parseShardIndex(JSON.stringify(wrongPlace)), (f) => shards.get(f)!))
      .toThrow(new RegExp(`${first}: holds tensor '${moved.replace(/\./g, "\\.")}' that ${SHARD_INDEX_FILE} places in '${second}'`));
    const unlisted = { ...json, weight_map: { ...json.weight_map } };
    delete unlisted.weight_map[moved];
    expect(() => readShardedSafetensors(parseShardIndex(JSON.stringify(unlisted)), (f) => shards.get(f)!)).toThrow(/does not list/);
    const ghost = { ...json, weight_map: { ...json.weight_map, "ghost.weight": first } };
    expect(() => readShardedSafetensors(parseShardIndex(JSON.stringify(ghost)), (f) => shards.get(f)!)).toThrow(/tensor 'ghost.weight' listed in model.safetensors.index.json is missing from the shard/);
  });

  it("refuses malformed indexes", () => {
    expect(() => parseShardIndex("nope")).toThrow(/model.safetensors.index.json: not valid JSON/);
    expect(() => parseShardIndex("{}")).toThrow(/missing the 'weight_map' object/);
    expect(() => parseShardIndex('{"weight_map":{}}')).toThrow(/'weight_map' is empty/);
    expect(() => parseShardIndex('{"weight_map":{"a":"../etc/passwd"}}')).toThrow(/weight_map\['a'\] = '..\/etc\/passwd' is not a plain file name/);
    expect(() => parseShardIndex('{"weight_map":{"a":3}}')).toThrow(/weight_map\['a'\] must be a file name, got 3/);
  });
});
