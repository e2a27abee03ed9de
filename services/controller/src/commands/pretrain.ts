// `lspo pretrain -c <config.yaml> [key=value ...]`: supervised pretraining of the demo policy on worked
// solutions of the synthetic task, then held-out evaluation; writes a Hugging Face model directory plus
// pretrain.json (measured accuracy, the command, steps, wall time).
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { writeModelDir } from "@lspo/tasks";
import { loadPretrainConfig } from "../pretrain/config.js";
import { evaluateModelHeldOut, heldOutProblems, probeGroupMix } from "../pretrain/evaluate.js";
import { DEMO_PROMPT_TEMPLATE } from "../pretrain/format.js";
import { pretrain } from "../pretrain/train.js";

export const summary = "supervised pretraining of the demo policy on the synthetic task (writes a model dir + pretrain.json)";

const USAGE = `usage: lspo pretrain -c <config.yaml> [key.path=value ...]

Trains a fresh small Llama on worked solutions of the synthetic arithmetic task (loss on the solution
tokens only), evaluates it on held-out problems (greedy accuracy, and how many G-sample groups are
mixed at the sampling temperature), and writes to \`out\`:
  config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json
  pretrain.json   measured held-out accuracy, group mix, loss curve, the command, steps, wall time

-c, --config   the pretrain config (e.g. configs/demo-pretrain.yaml)
key=value      overrides, e.g. train.steps=200 out=runs/base task.difficulty=[1,2]`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  if (!values.config) {
    console.error(`lspo pretrain: --config is required\n\n${USAGE}`);
    return 2;
  }
  const notOverride = positionals.find((p) => !p.includes("="));
  if (notOverride !== undefined) {
    console.error(`lspo pretrain: unexpected argument '${notOverride}' (overrides are key.path=value)\n\n${USAGE}`);
    return 2;
  }
  const cfg = loadPretrainConfig(values.config, positionals);
  const t0 = performance.now();
  const trained = await pretrain(cfg, (p) =>
    console.error(`pretrain step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ${Math.round(p.tokensPerSecond)} tok/s  ${p.seconds.toFixed(1)} s`),
  );

  // The held-out set must be disjoint from what was trained on; checked, not assumed.
  const heldOut = heldOutProblems(cfg.eval.problems, cfg.task);
  const overlap = heldOut.filter((p) => trained.trainPrompts.has(p.prompt)).length;
  if (overlap > 0) throw new Error(`${overlap} held-out prompts were trained on; the split is broken`);

  const threads = cfg.train.threads;
  const accuracy = await evaluateModelHeldOut(trained.model, { problems: cfg.eval.problems, task: cfg.task, maxNewTokens: cfg.eval.maxNewTokens, threads });
  const groups = cfg.eval.groupPrompts > 0
    ? await probeGroupMix(trained.model, {
      prompts: cfg.eval.groupPrompts, groupSize: cfg.eval.groupSize, temperature: cfg.eval.temperature, seed: cfg.seed,
      task: cfg.task, maxNewTokens: cfg.eval.maxNewTokens, threads,
    })
    : null;
  const files = writeModelDir(cfg.out, trained.model);
  const report = {
    command: ["lspo", "pretrain", "-c", values.config, ...positionals].join(" "),
    config: cfg,
    parameters: trained.parameters,
    steps: cfg.train.steps,
    batch_size: cfg.train.batchSize,
    train_tokens: trained.tokens,
    distinct_train_prompts: trained.trainPrompts.size,
    held_out_overlap: overlap,
    loss: { first: trained.firstLoss, final: trained.finalLoss, curve: trained.lossCurve },
    held_out: accuracy,
    groups,
    wall_seconds: { train: trained.seconds, total: (performance.now() - t0) / 1000 },
    machine: { cpus: cpus().length, node: process.version },
    prompt_template: DEMO_PROMPT_TEMPLATE,
    created: new Date().toISOString(),
  };
  writeFileSync(path.join(cfg.out, "pretrain.json"), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify({
    out: cfg.out, files: [...files, "pretrain.json"], held_out_accuracy: accuracy.accuracy, mixed_groups: groups?.mixed ?? null,
    final_loss: trained.finalLoss, wall_seconds: Math.round(report.wall_seconds.total * 10) / 10,
  }));
  return 0;
}
