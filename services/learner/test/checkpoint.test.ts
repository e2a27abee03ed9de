// Checkpoints in the Hugging Face sharded form (issue 16): the model and the optimizer state each as an index
// and shards, written, hashed and read a shard (and a tensor) at a time; they load back bit-exactly; an older
// checkpoint's single files still load; a damaged shard is named. The sampler's state is a file of its own.
import { mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createModelFromSpec, safetensorsParts, zeroState, type AdamWState } from "@lspo/model";
import { hashFile, writeModelDir, writeParts } from "@lspo/tasks";
import { SAMPLER_STATE_FILE, latestValidCheckpoint, loadCheckpoint, writeCheckpoint } from "@lspo/learner";

const spec = { seed: 3, model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true } };
const state = { step: 7, policyVersion: 7, algorithm: { active: { name: "dapo", params: {} }, pending: null, history: [] } as never, cursor: null, trainedGroups: 3 };

function moments(model: ReturnType<typeof createModelFromSpec>): AdamWState {
  const opt = zeroState(model.weights);
  opt.step = 21;
  let k = 0;
  for (const t of [...opt.m.values(), ...opt.v.values()]) t.data.forEach((_, i) => (t.data[i] = Math.sin(++k) * 1e-3));
  return opt;
}

describe("learner - checkpoints in the sharded form", () => {
  it("writes the model and the optimizer state as index + shards, and loads both back bit-exactly", () => {
    const run = mkdtempSync(join(tmpdir(), "lspo-ckpt-"));
    const model = createModelFromSpec(spec);
    const opt = moments(model);
    const samplerState = new Uint8Array(5000).map((_, i) => i * 7);
    const dir = writeCheckpoint(run, model, opt, state, 3, { [SAMPLER_STATE_FILE]: samplerState });
    const files = readdirSync(dir).sort();
    expect(files).toEqual(expect.arrayContaining([
      "model.safetensors.index.json", "model-00001-of-00001.safetensors",
      "optimizer.safetensors.index.json", "optimizer-00001-of-00001.safetensors", "state.json", SAMPLER_STATE_FILE,
    ]));
    // The sampler's state is a file of its own, hashed with the rest (state.json carries no copy of it).
    expect(new Uint8Array(readFileSync(join(dir, SAMPLER_STATE_FILE)))).toEqual(samplerState);
    expect(loadCheckpoint(dir).state.files[SAMPLER_STATE_FILE]).toBe(hashFile(join(dir, SAMPLER_STATE_FILE)));
    expect(files).not.toContain("model.safetensors");
    const back = loadCheckpoint(dir);
    expect(back.optimizer.step).toBe(21);
    for (const [name, t] of model.weights) expect(Buffer.from(back.model.weights.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), name).toBe(true);
    for (const which of ["m", "v"] as const) {
      for (const [name, t] of opt[which]) expect([...back.optimizer[which].get(name)!.data], `${which}.${name}`).toEqual([...t.data]);
    }
    // A damaged optimizer shard is named, and the checkpoint is skipped.
    truncateSync(join(dir, "optimizer-00001-of-00001.safetensors"), 100);
    expect(latestValidCheckpoint(run).skipped[0]).toMatch(/step-000007\/optimizer-00001-of-00001\.safetensors: checksum mismatch \(corrupt checkpoint\)/);
    // So is a damaged sampler state.
    const second = writeCheckpoint(run, model, opt, { ...state, step: 8 }, 3, { [SAMPLER_STATE_FILE]: samplerState });
    truncateSync(join(second, SAMPLER_STATE_FILE), 10);
    expect(latestValidCheckpoint(run).skipped[0]).toMatch(/step-000008\/sampler-state\.msgpack: checksum mismatch \(corrupt checkpoint\)/);
  });

  it("an older checkpoint (one model.safetensors, one optimizer.safetensors) still loads", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lspo-ckpt-old-")), "step-000004");
    const model = createModelFromSpec(spec);
    const opt = moments(model);
    const written = writeModelDir(dir, model).map((p) => p.split("/").pop()!);
    const entries = [...[...opt.m].map(([k, t]) => [`m.${k}`, t] as const), ...[...opt.v].map(([k, t]) => [`v.${k}`, t] as const)];
    writeParts(join(dir, "optimizer.safetensors"), safetensorsParts(entries, { step: String(opt.step) }));
    const hashes = Object.fromEntries([...written, "optimizer.safetensors"].map((f) => [f, hashFile(join(dir, f))]));
    writeFileSync(join(dir, "state.json"), JSON.stringify({ ...state, step: 4, files: hashes }));
    const back = loadCheckpoint(dir);
    expect(back.optimizer.step).toBe(21);
    expect([...back.optimizer.v.values()][0].data[0]).toBe([...opt.v.values()][0].data[0]);
    expect(back.state.step).toBe(4);
  });
});
