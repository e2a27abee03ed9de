// `lspo model <init|verify>`: create a fresh Llama-family model directory, or check our engine against a
// transformers reference. Subcommands are a table, like the top-level commands.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { createModelFromHfConfig, createModelFromSpec, parameterCount } from "@lspo/model";
import { readModelDir, writeModelDir } from "@lspo/tasks";

export const summary = "Llama-family models: `model init` writes a fresh model dir, `model generate` continues a prompt, `model verify` checks one against a reference";

interface Sub {
  usage: string;
  run(argv: string[]): Promise<number>;
}

const INIT_USAGE = `usage: lspo model init --config <spec.yaml|spec.json> --out <dir>
       lspo model init --hf-config <config.json> --out <dir> [--tokenizer <tokenizer.json>] [--seed N] [--dtype fp32|bf16] [--shard-mb N]
       lspo model init --from <hf-model-dir> --out <dir>

--hf-config initialises a random model of any supported architecture sized exactly as a Hugging Face
config.json says (e.g. Qwen2.5-0.5B's), with the demo tokenizer or --tokenizer's; vocabulary ids beyond the
tokenizer are fine. Weights are written in shards of at most 2 GB (model.safetensors.index.json), as float32
or, with --dtype bf16, as bf16 (half the bytes, rounded to nearest even as torch does).

--from copies an existing model directory (the shipped demo policy configs/models/demo-base, a checkpoint on
a volume) after checking it loads: what a Kubernetes init container runs to fill the model volume.

Writes a Hugging Face model directory (config.json, model.safetensors, tokenizer.json,
tokenizer_config.json, generation_config.json) with random weights and the demo tokenizer.
The spec (YAML or JSON):
  seed: 0                    # init seed (default 0)
  initializer_range: 0.02    # std of the normal init (default 0.02)
  tokenizer: { words: [...] }  # whole-word tokens (default: the demo word list)
  model:                     # config.json keys: model_type (llama|qwen2|qwen3), hidden_size,
                             # intermediate_size, num_hidden_layers, num_attention_heads, ...
Example: configs/model-demo.yaml`;

const subcommands: Record<string, () => Promise<Sub>> = {
  init: async () => ({ usage: INIT_USAGE, run: runInit }),
  generate: async () => {
    const m = await import("./model-generate.js");
    return { usage: m.USAGE, run: m.run };
  },
  verify: async () => {
    const m = await import("./model-verify.js");
    return { usage: m.USAGE, run: m.run };
  },
};

const USAGE = `usage: lspo model <${Object.keys(subcommands).join("|")}> [options]\n\n${INIT_USAGE}\n\nRun \`lspo model verify --help\` for verify's options.`;

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const load = subcommands[name];
  if (!load) {
    console.error(`lspo model: unknown subcommand '${name}'. Valid: ${Object.keys(subcommands).join(", ")}`);
    return 2;
  }
  return (await load()).run(rest);
}

async function runInit(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" }, from: { type: "string" }, "hf-config": { type: "string" }, tokenizer: { type: "string" }, seed: { type: "string" }, dtype: { type: "string" }, "shard-mb": { type: "string" },
      out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return (console.log(INIT_USAGE), 0);
  if (positionals.length > 0) {
    console.error(`lspo model init: unexpected argument '${positionals[0]}'\n\n${INIT_USAGE}`);
    return 2;
  }
  const sources = [values.config, values.from, values["hf-config"]].filter((v) => v !== undefined).length;
  if (sources > 1) {
    console.error(`lspo model init: give one of --config (a spec), --hf-config (a Hugging Face config.json) or --from (a copy), not several\n\n${INIT_USAGE}`);
    return 2;
  }
  if (values["hf-config"] !== undefined) {
    if (!values.out) return (console.error(`lspo model init: --out is required\n\n${INIT_USAGE}`), 2);
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (!Number.isInteger(seed) || seed < 0) return (console.error(`lspo model init: --seed must be an integer >= 0, got '${values.seed}'`), 2);
    let model;
    try {
      const tokenizerJson = values.tokenizer === undefined ? undefined : readFileSync(values.tokenizer, "utf8");
      model = createModelFromHfConfig(readFileSync(values["hf-config"], "utf8"), { tokenizerJson, seed }, values["hf-config"]);
    } catch (e) {
      console.error(`lspo model init: ${(e as Error).message}`);
      return 1;
    }
    const dtype = values.dtype ?? "fp32";
    if (dtype !== "fp32" && dtype !== "bf16") return (console.error(`lspo model init: --dtype must be fp32 or bf16, got '${dtype}'`), 2);
    // Shards of 2,000 MB by default, as transformers saves; 0 writes one model.safetensors of any size (the
    // files are written part by part, so neither way needs a buffer of the whole model).
    const shardMb = values["shard-mb"] === undefined ? 2000 : Number(values["shard-mb"]);
    if (!(shardMb >= 0) || !Number.isFinite(shardMb)) return (console.error(`lspo model init: --shard-mb must be a number >= 0 (0 = one file), got '${values["shard-mb"]}'`), 2);
    const files = writeModelDir(values.out, model, { maxShardBytes: shardMb > 0 ? Math.round(shardMb * 1e6) : undefined, dtype });
    console.log(JSON.stringify({ out: values.out, files, dtype, model_type: model.config.modelType, parameters: parameterCount(model.config), vocab_size: model.config.vocabSize }));
    return 0;
  }
  if (values.dtype !== undefined || values["shard-mb"] !== undefined) return (console.error(`lspo model init: --dtype and --shard-mb go with --hf-config`), 2);
  if (values.from && values.out) {
    // Loading it is the check: an architecture we cannot run or a missing file fails here, named.
    let model: ReturnType<typeof readModelDir>;
    try {
      model = readModelDir(values.from);
    } catch (e) {
      console.error(`lspo model init: --from ${values.from}: ${(e as Error).message}`);
      return 1;
    }
    const files = writeModelDir(values.out, model);
    console.log(JSON.stringify({ out: values.out, from: values.from, files, model_type: model.config.modelType, parameters: parameterCount(model.config) }));
    return 0;
  }
  if (!values.config || !values.out) {
    console.error(`lspo model init: ${!values.config ? "--config" : "--out"} is required\n\n${INIT_USAGE}`);
    return 2;
  }
  let spec: unknown;
  try {
    spec = parseYaml(readFileSync(values.config, "utf8")); // YAML is a superset of JSON
  } catch (e) {
    console.error(`lspo model init: cannot read ${values.config}: ${(e as Error).message}`);
    return 1;
  }
  const model = createModelFromSpec(spec, values.config);
  const files = writeModelDir(values.out, model);
  console.log(JSON.stringify({
    out: values.out, files, model_type: model.config.modelType, parameters: parameterCount(model.config), vocab_size: model.config.vocabSize,
  }));
  return 0;
}
