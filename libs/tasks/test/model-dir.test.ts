import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSafetensors } from "@lspo/model";
import { readModelDir, writeModelDir } from "@lspo/tasks";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const FIXTURE = path.join(repoRoot, "test/fixtures/hf/llama");

const scratch = mkdtempSync(path.join(tmpdir(), "lspo-model-dir-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(scratch, `d${n++}`);

/** A copy of the fixture's model files in a scratch dir, to break on purpose. */
function fixtureCopy(): string {
  const dir = fresh();
  mkdirSync(dir);
  for (const f of ["config.json", "model.safetensors", "tokenizer.json", "generation_config.json"]) {
    copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  }
  return dir;
}

describe("model dir - transformers' checkpoint", () => {
  it("reads the fixture and writes it back byte-identical where the format allows", () => {
    const model = readModelDir(FIXTURE);
    expect(model.config.numLayers).toBe(2);
    expect(model.weights.size).toBe(21);
    expect(model.generationConfig).toMatchObject({ bosTokenId: 1, eosTokenIds: [2] });
    const out = fresh();
    const written = writeModelDir(out, model);
    expect(written.sort()).toEqual(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]);
    // same tensors, same bytes, same header as transformers wrote
    expect(readFileSync(path.join(out, "model.safetensors")).equals(readFileSync(path.join(FIXTURE, "model.safetensors")))).toBe(true);
    expect(readFileSync(path.join(out, "tokenizer.json"), "utf8")).toBe(readFileSync(path.join(FIXTURE, "tokenizer.json"), "utf8"));
    expect(parseSafetensors(new Uint8Array(readFileSync(path.join(out, "model.safetensors")))).metadata).toEqual({ format: "pt" });
    const tokCfg = JSON.parse(readFileSync(path.join(out, "tokenizer_config.json"), "utf8"));
    expect(tokCfg).toMatchObject({ tokenizer_class: "PreTrainedTokenizerFast", clean_up_tokenization_spaces: false, bos_token: "<|endoftext|>" });
    const again = readModelDir(out);
    expect(again.config).toEqual(model.config);
    expect(again.generationConfig).toEqual(model.generationConfig);
    for (const [k, t] of model.weights) expect(Buffer.from(again.weights.get(k)!.data.buffer).equals(Buffer.from(t.data.buffer)), k).toBe(true);
  });

  it("round-trips through a sharded checkpoint and replaces the other layout", () => {
    const model = readModelDir(FIXTURE);
    const out = fresh();
    writeModelDir(out, model);
    const written = writeModelDir(out, model, { maxShardBytes: 200_000 });
    expect(written).toContain("model.safetensors.index.json");
    expect(existsSync(path.join(out, "model.safetensors"))).toBe(false);
    expect(readdirSync(out).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const back = readModelDir(out);
    for (const [k, t] of model.weights) expect(Array.from(back.weights.get(k)!.data), k).toEqual(Array.from(t.data));
  });

  it("names the missing or bad file", () => {
    const noConfig = fixtureCopy();
    rmSync(path.join(noConfig, "config.json"));
    expect(() => readModelDir(noConfig)).toThrow(new RegExp(`${noConfig}/config.json is missing`));

    const noTok = fixtureCopy();
    rmSync(path.join(noTok, "tokenizer.json"));
    expect(() => readModelDir(noTok)).toThrow(/tokenizer.json is missing/);

    const noWeights = fixtureCopy();
    rmSync(path.join(noWeights, "model.safetensors"));
    expect(() => readModelDir(noWeights)).toThrow(/no model.safetensors or model.safetensors.index.json/);
    writeFileSync(path.join(noWeights, "pytorch_model.bin"), "x");
    expect(() => readModelDir(noWeights)).toThrow(/only PyTorch .bin weights/);

    const truncated = fixtureCopy();
    const st = readFileSync(path.join(truncated, "model.safetensors"));
    writeFileSync(path.join(truncated, "model.safetensors"), st.subarray(0, st.length - 10));
    // The error names the file, the tensor and its byte range, read through a file source (not a whole buffer).
    const size = st.length - 10;
    expect(() => readModelDir(truncated)).toThrow(new RegExp(`${truncated}/model.safetensors: truncated: tensor '[^']+' needs file bytes \\[\\d+, ${st.length}\\) but the file ends at byte ${size}`));

    // A truncated shard of a sharded checkpoint: the shard, the tensor and its byte range are named.
    const sharded = fixtureCopy();
    writeModelDir(sharded, readModelDir(sharded), { maxShardBytes: 40_000 });
    const shards = readdirSync(sharded).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).sort();
    expect(shards.length).toBeGreaterThan(1);
    const last = path.join(sharded, shards[shards.length - 1]);
    const shardBytes = readFileSync(last);
    writeFileSync(last, shardBytes.subarray(0, shardBytes.length - 3));
    expect(() => readModelDir(sharded)).toThrow(new RegExp(`${shards[shards.length - 1]}: truncated: tensor '[^']+' needs file bytes \\[\\d+, ${shardBytes.length}\\) but the file ends at byte ${shardBytes.length - 3}`));

    const badConfig = fixtureCopy();
    const cfg = JSON.parse(readFileSync(path.join(badConfig, "config.json"), "utf8"));
    writeFileSync(path.join(badConfig, "config.json"), JSON.stringify({ ...cfg, hidden_size: 32 }));
    expect(() => readModelDir(badConfig)).toThrow(/model.safetensors do not match the llama config .*'model.embed_tokens.weight' has shape \[384,64\], expected \[384,32\]/);

    const badGen = fixtureCopy();
    writeFileSync(path.join(badGen, "generation_config.json"), JSON.stringify({ top_p: 2 }));
    expect(() => readModelDir(badGen)).toThrow(/generation_config.json: 'top_p' must be a number in \(0, 1\], got 2/);

    const missingShard = fresh();
    writeModelDir(missingShard, readModelDir(FIXTURE), { maxShardBytes: 200_000 });
    rmSync(path.join(missingShard, "model-00002-of-00003.safetensors"), { force: true });
    expect(() => readModelDir(missingShard)).toThrow(/model-0000\d-of-0000\d.safetensors is missing \(named by model.safetensors.index.json\)/);

    expect(() => readModelDir(path.join(scratch, "nope"))).toThrow(/model directory .*nope does not exist/);
  });
});
