import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { loadTokenizer, parseSafetensors, serializeSafetensors, decodeEntry } from "@lspo/model";
import { readModelDir } from "@lspo/tasks";
import { run } from "../src/commands/model.js";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const FIXTURE = path.join(repoRoot, "test/fixtures/hf/llama");
const scratch = mkdtempSync(path.join(tmpdir(), "lspo-model-cmd-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `lspo model ...` in-process, capturing what it prints. */
async function lspoModel(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  try {
    const code = await run(argv);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("lspo model init", () => {
  it("--from copies a model directory it could load (what the controller's init container runs)", async () => {
    const out = path.join(scratch, "from-demo-base");
    const r = await lspoModel("init", "--from", path.join(repoRoot, "configs/models/demo-base"), "--out", out);
    expect(r.code).toBe(0);
    const copy = readModelDir(out);
    const original = readModelDir(path.join(repoRoot, "configs/models/demo-base"));
    expect(copy.config).toEqual(original.config);
    for (const [name, t] of original.weights) expect(Buffer.from(copy.weights.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    const missing = await lspoModel("init", "--from", path.join(scratch, "no-such-model"), "--out", path.join(scratch, "never"));
    expect(missing.code).not.toBe(0);
    expect(existsSync(path.join(scratch, "never"))).toBe(false);
    const both = await lspoModel("init", "--from", out, "--config", path.join(repoRoot, "configs/model-demo.yaml"), "--out", path.join(scratch, "x"));
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/give one of --config .*, --hf-config .* or --from .*, not several/);
  });

  it("writes a loadable model dir from the demo config (YAML)", async () => {
    const out = path.join(scratch, "demo");
    const r = await lspoModel("init", "--config", path.join(repoRoot, "configs/model-demo.yaml"), "--out", out);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.out);
    const model = readModelDir(out);
    expect(summary.parameters).toBe([...model.weights.values()].reduce((n, t) => n + t.data.length, 0));
    expect(model.config).toMatchObject({ modelType: "llama", hiddenSize: 128, numLayers: 4, tieWordEmbeddings: true, eosTokenIds: [1], padTokenId: 0 });
    const tok = loadTokenizer(model.tokenizerJson);
    expect(model.config.vocabSize).toBe(tok.vocabSize);
    expect(tok.decode(tok.encode("Tom has 3 apples."))).toBe("Tom has 3 apples.");
  });

  it("takes JSON, qwen2, custom words, and is reproducible from the seed", async () => {
    const spec = path.join(scratch, "q.json");
    writeFileSync(spec, JSON.stringify({ seed: 3, tokenizer: { words: ["zebra"] }, model: { model_type: "qwen2", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true } }));
    expect((await lspoModel("init", "-c", spec, "-o", path.join(scratch, "q1"))).code).toBe(0);
    expect((await lspoModel("init", "-c", spec, "-o", path.join(scratch, "q2"))).code).toBe(0);
    expect(readFileSync(path.join(scratch, "q1/model.safetensors")).equals(readFileSync(path.join(scratch, "q2/model.safetensors")))).toBe(true);
    const m = readModelDir(path.join(scratch, "q1"));
    expect(m.config).toMatchObject({ modelType: "qwen2", attentionBias: true, headDim: 8 });
    expect(loadTokenizer(m.tokenizerJson).encode(" zebra")).toHaveLength(1);
  });

  it("refuses bad specs and flags, naming the problem", async () => {
    const spec = path.join(scratch, "bad.yaml");
    writeFileSync(spec, "model:\n  model_type: llama\n  hidden_size: 32\n  hiden_layers: 2\n");
    await expect(lspoModel("init", "--config", spec, "--out", path.join(scratch, "x"))).rejects.toThrow(/model: unknown key 'hiden_layers' \(valid: model_type, vocab_size/);
    writeFileSync(spec, "model:\n  model_type: gpt2\n");
    await expect(lspoModel("init", "--config", spec, "--out", path.join(scratch, "x"))).rejects.toThrow(/model_type "gpt2" is not supported \(supported: llama, qwen2, qwen3\)/);
    writeFileSync(spec, "model:\n  model_type: llama\n  hidden_size: 32\n  num_attention_heads: 4\n  num_hidden_layers: 1\n");
    await expect(lspoModel("init", "--config", spec, "--out", path.join(scratch, "x"))).rejects.toThrow(/missing field 'intermediate_size'/);
    expect((await lspoModel("init", "--config", spec)).err).toMatch(/--out is required/);
    await expect(lspoModel("init", "--config", spec, "--out", "x", "--bogus")).rejects.toThrow(/Unknown option '--bogus'/);
    expect((await lspoModel("frobnicate")).err).toMatch(/unknown subcommand 'frobnicate'. Valid: init, generate, verify/);
  });
});

describe("lspo model verify", () => {
  const reference = path.join(FIXTURE, "reference.safetensors");

  it("passes on transformers' own checkpoint, with every check in the report", async () => {
    const r = await lspoModel("verify", FIXTURE, "--reference", reference);
    const report = JSON.parse(r.out);
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.logits.max_abs_err).toBeLessThanOrEqual(1e-4);
    expect(report.gradients).toMatchObject({ ok: true, tensors: 21, failed: [] });
    expect(report.greedy).toMatchObject({ ok: true, rows: 2 });
    expect(report.tokenizer).toMatchObject({ ok: true, cases: 4 });
  });

  it("fails (exit 1) on a perturbed checkpoint and says which check and tensor", async () => {
    const dir = path.join(scratch, "perturbed");
    mkdirSync(dir);
    for (const f of ["config.json", "tokenizer.json"]) copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
    const file = parseSafetensors(new Uint8Array(readFileSync(path.join(FIXTURE, "model.safetensors"))));
    const tensors = [...file.tensors].map(([n, e]) => [n, decodeEntry(e)] as const);
    const norm = tensors.find(([n]) => n === "model.layers.1.post_attention_layernorm.weight")![1];
    (norm.data as Float32Array)[5] += 0.05;
    writeFileSync(path.join(dir, "model.safetensors"), serializeSafetensors(tensors, { format: "pt" }));
    const r = await lspoModel("verify", dir, "--reference", reference);
    const report = JSON.parse(r.out);
    expect(r.code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.logits.ok).toBe(false);
    expect(report.gradients.ok).toBe(false);
    expect(report.gradients.failed.map((f: { name: string }) => f.name)).toContain("model.layers.1.post_attention_layernorm.weight");
  });

  it("refuses a reference that does not fit the model, naming the tensor", async () => {
    const demo = path.join(scratch, "demo-for-verify");
    await lspoModel("init", "--config", path.join(repoRoot, "configs/model-demo.yaml"), "--out", demo);
    await expect(lspoModel("verify", demo, "--reference", reference)).rejects.toThrow(/reference tensor 'logits' has shape \[3,16,384\], expected \[3,16,479\]/);
    expect((await lspoModel("verify", FIXTURE)).err).toMatch(/--reference is required/);
    expect((await lspoModel("verify", FIXTURE, "--reference", path.join(scratch, "nope.safetensors"))).err).toMatch(/reference file .*nope.safetensors does not exist/);
  });
});

describe("lspo model init --hf-config and lspo model generate", () => {
  it("generate continues a prompt exactly as transformers' greedy search does (the fixture's reference)", async () => {
    const ref = JSON.parse(readFileSync(path.join(FIXTURE, "reference.json"), "utf8")).greedy;
    const prompt: number[] = ref.prompts[0];
    const r = await lspoModel("generate", FIXTURE, "--prompt-ids", prompt.join(","), "--max-new-tokens", String(ref.max_new_tokens));
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.promptIds).toEqual(prompt);
    expect(out.ids).toEqual(ref.output[0].slice(prompt.length));
    const bad = await lspoModel("generate", FIXTURE, "--prompt-ids", "5,999999", "--max-new-tokens", "2");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--prompt-ids: '999999' is not a token id of this model/);
  });

  it("init --hf-config sizes a random model as a Hugging Face config.json says (vocabulary past the tokenizer), and it generates", async () => {
    const cfg = {
      architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2,
      num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 3000, max_position_embeddings: 256, rope_theta: 1000000.0,
      rms_norm_eps: 1e-6, tie_word_embeddings: true, torch_dtype: "bfloat16", use_cache: true, bos_token_id: 1, eos_token_id: 1,
    };
    const cfgFile = path.join(scratch, "qwen-tiny-config.json");
    writeFileSync(cfgFile, JSON.stringify(cfg));
    const out = path.join(scratch, "qwen-tiny");
    const r = await lspoModel("init", "--hf-config", cfgFile, "--out", out, "--seed", "3");
    expect(r.code, r.err).toBe(0);
    const model = readModelDir(out);
    expect(model.config).toMatchObject({ modelType: "qwen2", hiddenSize: 64, numLayers: 2, vocabSize: 3000, tieWordEmbeddings: true, attentionBias: true });
    expect(JSON.parse(r.out).parameters).toBe([...model.weights.values()].reduce((n, t) => n + t.data.length, 0));
    const g = await lspoModel("generate", out, "--prompt", "Tom has 3 apples.", "--max-new-tokens", "6", "--temperature", "1", "--seed", "7");
    expect(g.code, g.err).toBe(0);
    const gen = JSON.parse(g.out);
    expect(gen.ids.length).toBeGreaterThan(0);
    for (const id of gen.ids) expect(id).toBeLessThan(3000);
    // Same seed, same draws.
    expect(JSON.parse((await lspoModel("generate", out, "--prompt", "Tom has 3 apples.", "--max-new-tokens", "6", "--temperature", "1", "--seed", "7")).out).ids).toEqual(gen.ids);

    // --dtype bf16: the same model in half the bytes, stored as BF16, and it loads.
    const half = path.join(scratch, "qwen-tiny-bf16");
    const h = await lspoModel("init", "--hf-config", cfgFile, "--out", half, "--seed", "3", "--dtype", "bf16");
    expect(h.code, h.err).toBe(0);
    const f32Bytes = readFileSync(path.join(out, "model.safetensors"));
    const bf16Bytes = readFileSync(path.join(half, "model.safetensors"));
    expect([...parseSafetensors(bf16Bytes, "bf16").tensors.values()].every((e) => e.dtype === "BF16")).toBe(true);
    expect(bf16Bytes.length).toBeLessThan(f32Bytes.length / 2 + 4096);
    expect(readModelDir(half).config).toEqual(model.config);
    expect((await lspoModel("init", "--hf-config", cfgFile, "--out", path.join(scratch, "x16"), "--dtype", "fp16")).err).toMatch(/--dtype must be fp32 or bf16, got 'fp16'/);

    writeFileSync(cfgFile, JSON.stringify({ ...cfg, vocab_size: 10 }));
    const small = await lspoModel("init", "--hf-config", cfgFile, "--out", path.join(scratch, "never-small"));
    expect(small.code).toBe(1);
    expect(small.err).toMatch(/vocab_size 10 is smaller than the tokenizer's \d+ tokens/);
  });
});
