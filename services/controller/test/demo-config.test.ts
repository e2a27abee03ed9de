// configs/demo.yaml (what `npm run demo` trains with) is a valid run config that points at a model that
// exists and loads, and its sizes fit the task: no correct worked solution is cut by maxNewTokens, and
// prompt + response fit the model's positions.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "@lspo/config";
import { loadTokenizer, parameterCount } from "@lspo/model";
import { readModelDir, syntheticProblems } from "@lspo/tasks";

const repoRoot = path.resolve(import.meta.dirname, "../../..");

describe("configs/demo.yaml", () => {
  const config = loadConfigFile(path.join(repoRoot, "configs/demo.yaml"));

  it("is DAPO + LSPO on the synthetic task with the held-out evaluation on", () => {
    expect(config.learner.algorithm.name).toBe("dapo");
    expect(config.sampler.lengthFilter).toBe(true);
    expect(config.task.kind).toBe("synthetic");
    expect(config.rollout.actors).toBe(2);
    expect(config.eval.prompts).toBeGreaterThanOrEqual(256);
  });

  it("points at the shipped demo policy, which loads with its tokenizer", () => {
    const dir = path.resolve(repoRoot, config.model.dir); // `lspo demo` resolves it against the repository root
    const model = readModelDir(dir);
    expect(parameterCount(model.config)).toBe(433_920);
    const tok = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, path.join(dir, "tokenizer.json"));
    const ids = tok.encode("has 12. gets 7. now?\n");
    expect(ids.every((t) => t >= 0 && t < model.config.vocabSize)).toBe(true);
  });

  it("sizes: every worked solution fits maxNewTokens, prompt + response fit the positions", () => {
    const model = readModelDir(path.resolve(repoRoot, config.model.dir));
    const tok = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, "tokenizer.json");
    const task = config.task.synthetic as { seed: number; difficulty: [number, number] };
    const problems = [...syntheticProblems("train", 2000, task), ...syntheticProblems("test", config.eval.prompts, task)];
    let prompt = 0, response = 0;
    for (const p of problems) {
      prompt = Math.max(prompt, tok.encode(`${p.prompt}\n`).length);
      response = Math.max(response, tok.encode(p.solution).length + 1); // + the stop token
    }
    expect(response).toBeLessThanOrEqual(config.rollout.maxNewTokens);
    expect(response).toBeLessThanOrEqual(config.eval.maxNewTokens);
    expect(prompt + Math.max(config.rollout.maxNewTokens, config.eval.maxNewTokens)).toBeLessThanOrEqual(model.config.maxPositionEmbeddings);
  });
});
