// `lspo pretrain`: the SFT loss (prompt tokens masked, hand-checked), a short real pretraining run through
// the command (loss falls, the model dir loads back bit-identical, held-out prompts never trained on), the
// held-out evaluation reproducing the shipped checkpoint's measured numbers, and config/CLI errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ForwardSession, GradientSession, type HfModel, createModelFromSpec } from "@lspo/model";
import { isCorrect, readModelDir, splitOf } from "@lspo/tasks";
import { run } from "../src/commands/pretrain.js";
import { loadPretrainConfig, resolvePretrainConfig } from "../src/pretrain/config.js";
import { evaluateModelHeldOut, heldOutProblems, probeGroupMix } from "../src/pretrain/evaluate.js";
import { answerOnly, encodeSyntheticExample, syntheticPromptText } from "../src/pretrain/format.js";
import { SFT_INPUTS, sftBatches, sftLoss } from "../src/pretrain/sft-loss.js";
import { type PretrainOutcome, pretrain } from "../src/pretrain/train.js";

const repoRoot = path.resolve(import.meta.dirname, "../../..");
const SHIPPED = path.join(repoRoot, "configs/models/demo-base");
const scratch = mkdtempSync(path.join(tmpdir(), "lspo-pretrain-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A model small enough to train in seconds. */
const TINY_MODEL = {
  tokenizer: { words: ["has", "gets", "loses", "doubles", "triples", "now"] },
  model: {
    model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, max_position_embeddings: 128, tie_word_embeddings: true,
  },
};
const TINY_CONFIG = {
  seed: 3,
  model: TINY_MODEL,
  task: { seed: 5, difficulty: [1, 2] },
  train: { steps: 40, batchSize: 16, lr: 3e-3, warmupSteps: 5, logEvery: 10 },
  eval: { problems: 24, maxNewTokens: 48, groupPrompts: 4, groupSize: 4 },
};

async function lspoPretrain(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  try {
    return { code: await run(argv), out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe("pretrain - SFT loss", () => {
  // Two sequences: prompt [5, 6] + response [7, 1]; prompt [5] + response [8, 1] (one pad at the end).
  // Response token j sits at index p + j and is predicted at position p + j - 1.
  const examples = [{ prompt: [5, 6], response: [7, 1] }, { prompt: [5], response: [8, 1] }];

  it("masks exactly the positions that predict response tokens", () => {
    const [b] = sftBatches(examples, { padId: 0 });
    expect(Array.from(b.inputIds.data, Number)).toEqual([5, 6, 7, 1, /**/ 5, 8, 1, 0]);
    expect(Array.from(b.targets.data, Number)).toEqual([6, 7, 1, 0, /**/ 8, 1, 0, 0]);
    expect(Array.from(b.extras![SFT_INPUTS.mask].data as Float32Array)).toEqual([0, 1, 1, 0, /**/ 1, 1, 0, 0]);
    expect(Array.from(b.extras![SFT_INPUTS.count].data as Float32Array)).toEqual([4]);
    // micro-batches keep the whole batch's count, so their losses sum to the batch mean
    const parts = sftBatches(examples, { microBatch: 1 });
    expect(parts.map((p) => p.inputIds.shape)).toEqual([[1, 4], [1, 3]]);
    expect(parts.map((p) => Array.from(p.extras![SFT_INPUTS.mask].data as Float32Array))).toEqual([[0, 1, 1, 0], [1, 1, 0]]);
    expect(parts.map((p) => p.extras![SFT_INPUTS.count].data[0])).toEqual([4, 4]);
  });

  it("is the mean NLL of the response tokens only (vs log-probs from a forward pass), summing over micro-batches", async () => {
    const m = createModelFromSpec({ seed: 1, ...TINY_MODEL });
    const [b] = sftBatches(examples);
    const fwd = await ForwardSession.create(m.config);
    const lp = (await fwd.logprobs(m.weights, b)).data; // [2, 4]
    await fwd.release();
    const byHand = -(lp[1] + lp[2] + lp[4] + lp[5]) / 4; // row 0 positions 1, 2; row 1 positions 0, 1
    const allTokens = -(lp[0] + lp[1] + lp[2] + lp[4] + lp[5] + lp[6]) / 6; // what an unmasked loss would be
    const grad = await GradientSession.create(m.config, sftLoss);
    const whole = await grad.run(m.weights, b);
    const split = await Promise.all(sftBatches(examples, { microBatch: 1 }).map((mb) => grad.run(m.weights, mb)));
    await grad.release();
    expect(whole.loss).toBeCloseTo(byHand, 5);
    expect(Math.abs(whole.loss - allTokens)).toBeGreaterThan(1e-3);
    expect(split[0].loss + split[1].loss).toBeCloseTo(whole.loss, 5);
  });

  it("refuses examples it cannot train on", () => {
    expect(() => sftBatches([])).toThrow(/no examples/);
    expect(() => sftBatches([{ prompt: [], response: [3] }])).toThrow(/example 0 has an empty prompt/);
    expect(() => sftBatches([{ prompt: [3], response: [4] }, { prompt: [3], response: [] }])).toThrow(/example 1 has an empty response/);
  });
});

describe("pretrain - a short run", () => {
  const configFile = path.join(scratch, "tiny.yaml");
  const out = path.join(scratch, "tiny-model");
  let cli: { code: number; out: string; err: string };
  let report: Record<string, any>;
  let again: PretrainOutcome;

  beforeAll(async () => {
    writeFileSync(configFile, JSON.stringify(TINY_CONFIG)); // JSON is YAML
    cli = await lspoPretrain("-c", configFile, `out=${out}`);
    report = JSON.parse(readFileSync(path.join(out, "pretrain.json"), "utf8"));
    again = await pretrain(loadPretrainConfig(configFile, [`out=${out}`])); // same config, in process
  });

  it("lowers the loss and reports what it did", () => {
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.out)).toMatchObject({ out, held_out_accuracy: report.held_out.accuracy });
    expect(cli.err).toMatch(/pretrain step 40\/40 {2}loss \d+\.\d{4}/);
    expect(report.loss.first).toBeGreaterThan(5); // ~ln(vocab 287) = 5.66 at init
    expect(report.loss.final).toBeLessThan(0.6 * report.loss.first);
    expect(report.loss.curve.map((p: { step: number }) => p.step)).toEqual([10, 20, 30, 40]);
    expect(report).toMatchObject({ command: `lspo pretrain -c ${configFile} out=${out}`, steps: 40, batch_size: 16, held_out_overlap: 0, prompt_template: "{prompt}\n" });
    expect(report.held_out.total).toBe(24);
    expect(report.groups).toMatchObject({ groups: 4, groupSize: 4 });
    expect(report.wall_seconds.total).toBeGreaterThan(report.wall_seconds.train);
  });

  it("writes a model directory that loads back with the trained weights, bit for bit (one thread: reproducible)", () => {
    const loaded = readModelDir(out);
    expect(again.finalLoss).toBe(report.loss.final);
    expect([...loaded.weights.keys()].sort()).toEqual([...again.model.weights.keys()].sort());
    for (const [name, t] of again.model.weights) {
      expect(loaded.weights.get(name)!.shape, name).toEqual(t.shape);
      expect(Buffer.from((loaded.weights.get(name)!.data as Float32Array).buffer).equals(Buffer.from((t.data as Float32Array).buffer)), name).toBe(true);
    }
    expect(loaded.config).toMatchObject({ hiddenSize: 32, numLayers: 2, eosTokenIds: [1], padTokenId: 0 });
    expect(loaded.tokenizerJson).toBe(again.model.tokenizerJson);
  });

  it("task.answerOnlyFraction changes the targets, never which problems are drawn", async () => {
    const five = (fraction: number) => pretrain(loadPretrainConfig(configFile, [`out=${out}`, "train.steps=5", "train.warmupSteps=1", `task.answerOnlyFraction=${fraction}`]));
    const [worked, bare] = [await five(0), await five(1)];
    expect([...bare.trainPrompts]).toEqual([...worked.trainPrompts]);
    // Same prompts, answer lines only: far fewer tokens.
    expect(bare.tokens).toBeLessThan(worked.tokens * 0.8);
    expect(() => loadPretrainConfig(configFile, ["task.answerOnlyFraction=1.5"])).toThrow(/answerOnlyFraction/);
  });

  it("never trains on a held-out prompt", () => {
    expect(again.trainPrompts.size).toBeGreaterThan(300);
    for (const p of again.trainPrompts) expect(splitOf(p, 0.1)).toBe("train");
    const heldOut = heldOutProblems(200, { seed: 5, difficulty: [1, 2] });
    expect(heldOut.filter((p) => again.trainPrompts.has(p.prompt))).toEqual([]);
  });
});

describe("pretrain - held-out evaluation", () => {
  // The shipped checkpoint and its pretrain.json: greedy decoding and seeded sampling are deterministic, so
  // the helper must reproduce the measured numbers exactly from the files.
  const shipped = JSON.parse(readFileSync(path.join(SHIPPED, "pretrain.json"), "utf8"));
  let model: HfModel;
  beforeAll(() => {
    model = readModelDir(SHIPPED);
  });

  it("reproduces the shipped checkpoint's greedy held-out accuracy, in the RL range", async () => {
    const c = shipped.config;
    const r = await evaluateModelHeldOut(SHIPPED, { problems: c.eval.problems, task: c.task, maxNewTokens: c.eval.maxNewTokens, threads: 1 });
    expect(r).toMatchObject({ correct: shipped.held_out.correct, total: c.eval.problems, truncated: shipped.held_out.truncated });
    expect(r.accuracy).toBe(shipped.held_out.accuracy);
    expect(r.accuracy).toBeGreaterThan(0.2);
    expect(r.accuracy).toBeLessThan(0.5);
    expect(Object.values(r.byLevel).reduce((n, l) => n + l.total, 0)).toBe(r.total);
    for (const e of r.examples) expect(isCorrect(e.response, e.answer)).toBe(e.correct);
  });

  it("scores the decoded responses with the verifier (a model that learned nothing scores 0)", async () => {
    const fresh = createModelFromSpec({ seed: 0, ...TINY_MODEL });
    const r = await evaluateModelHeldOut(fresh, { problems: 8, task: { seed: 0 }, maxNewTokens: 8 });
    expect(r).toMatchObject({ correct: 0, total: 8, truncated: 8, meanResponseTokens: 8 });
  });

  it("probes G samples per prompt: the shipped base gives RL mixed groups", async () => {
    const c = shipped.config;
    const g = await probeGroupMix(model, {
      prompts: c.eval.groupPrompts, groupSize: c.eval.groupSize, temperature: c.eval.temperature, seed: c.seed, task: c.task, maxNewTokens: c.eval.maxNewTokens, threads: 1,
    });
    expect(g).toMatchObject({ groups: shipped.groups.groups, mixed: shipped.groups.mixed, allCorrect: shipped.groups.allCorrect, allWrong: shipped.groups.allWrong });
    expect(g.mixed + g.allCorrect + g.allWrong).toBeCloseTo(1, 12);
    expect(g.mixed).toBeGreaterThan(0.3);
  });

  it("answer-only targets keep just the final line; the rest of the example is unchanged", () => {
    const p = { prompt: "has 50. gets 26. gets 9. now?", solution: "50+26=76\n76+9=85\n#### 85" };
    expect(answerOnly(p.solution)).toBe("#### 85");
    expect(() => answerOnly("50+26=76")).toThrow(/must end with a '#### <answer>' line, got "50\+26=76"/);
    const tok = { encode: (s: string) => Array.from(s, (c) => c.charCodeAt(0)) } as Parameters<typeof encodeSyntheticExample>[0];
    const worked = encodeSyntheticExample(tok, 1, p);
    const bare = encodeSyntheticExample(tok, 1, p, { answerOnly: true });
    expect(bare.prompt).toEqual(worked.prompt);
    expect(bare.response).toEqual([...tok.encode("#### 85"), 1]);
    expect(worked.response).toEqual([...tok.encode(p.solution), 1]);
  });

  it("prompts with the run config's default template", () => {
    expect(syntheticPromptText({ prompt: "has 3. gets 4. now?" })).toBe("has 3. gets 4. now?\n");
  });
});

describe("pretrain - config and CLI errors", () => {
  it("names unknown keys with the valid ones, and bad values", () => {
    expect(() => resolvePretrainConfig({ model: {}, trian: {} }, [], "c.yaml")).toThrow(/c.yaml: unknown key trian; valid keys: seed, out, model, task, train, eval/);
    expect(() => resolvePretrainConfig({ model: {}, train: { stpes: 3 } }, [], "c.yaml")).toThrow(/unknown key train.stpes; valid keys under train: steps, batchSize/);
    expect(() => resolvePretrainConfig({ model: {} }, ["train.stpes=3"])).toThrow(/override train.stpes: unknown key 'stpes'; valid keys under train: steps/);
    expect(() => resolvePretrainConfig({ model: {} }, ["train.steps"])).toThrow(/override 'train.steps' is not key=value/);
    expect(() => resolvePretrainConfig({ model: { seed: 1 } })).toThrow(/model: set the init seed with the top-level 'seed'/);
    expect(() => resolvePretrainConfig({ model: {} }, ["task.difficulty=9"])).toThrow(/task.difficulty/);
    expect(() => resolvePretrainConfig({ model: {} }, ["train.steps=10", "train.warmupSteps=10"])).toThrow(/train.warmupSteps: must be below train.steps/);
    expect(resolvePretrainConfig({ model: {} }, ["task.difficulty=[1,2]", "train.lr=1e-3"])).toMatchObject({ task: { difficulty: [1, 2] }, train: { lr: 1e-3, threads: 1 } });
  });

  it("checks its arguments", async () => {
    expect((await lspoPretrain()).err).toMatch(/--config is required/);
    expect((await lspoPretrain("-c", "x.yaml", "steps")).err).toMatch(/unexpected argument 'steps' \(overrides are key.path=value\)/);
    await expect(lspoPretrain("-c", "x.yaml", "--bogus")).rejects.toThrow(/Unknown option '--bogus'/);
    await expect(lspoPretrain("-c", path.join(scratch, "missing.yaml"))).rejects.toThrow(/cannot read config file .*missing.yaml/);
  });

  it("the demo config parses, and names the shipped checkpoint's directory", () => {
    const c = loadPretrainConfig(path.join(repoRoot, "configs/demo-pretrain.yaml"));
    expect(c.out).toBe("configs/models/demo-base");
    expect(readModelDir(SHIPPED).config.hiddenSize).toBe((c.model.model as { hidden_size: number }).hidden_size);
  });
});
