// `lspo model generate <dir> --prompt <text> --max-new-tokens N [--temperature T] [--top-p P] [--top-k K]
// [--seed N] [--device cpu|webgpu|cuda]`: loads a Hugging Face model directory and continues one prompt,
// printing the new token ids and their text as one JSON line. The quickest check that a model (a fresh
// `model init`, a downloaded checkpoint) loads and runs end to end.
import { parseArgs } from "node:util";
import { OnnxDecoder, generate, loadTokenizer } from "@lspo/model";
import { stopTokenIds } from "@lspo/rollout";
import { readModelDir } from "@lspo/tasks";

export const USAGE = `usage: lspo model generate <hf-model-dir> (--prompt <text> | --prompt-ids 1,2,3) --max-new-tokens N
                           [--temperature T] [--top-p P] [--top-k K] [--seed N] [--device cpu|webgpu|cuda]

Greedy unless --temperature > 0. Stops at the model's eos tokens. Prints one JSON line:
{"promptIds", "ids", "text", "truncated", "seconds"}.`;

function num(name: string, raw: string | undefined, fallback: number, check: (n: number) => boolean, want: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new Error(`--${name} must be ${want}, got '${raw}'`);
  return n;
}


export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      prompt: { type: "string" }, "prompt-ids": { type: "string" }, "max-new-tokens": { type: "string" }, temperature: { type: "string" }, "top-p": { type: "string" },
      "top-k": { type: "string" }, seed: { type: "string" }, device: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  const hasPrompt = (values.prompt !== undefined) !== (values["prompt-ids"] !== undefined);
  if (positionals.length !== 1 || !hasPrompt || values["max-new-tokens"] === undefined) {
    const missing = positionals.length !== 1 ? "one model directory is" : !hasPrompt ? "exactly one of --prompt and --prompt-ids is" : "--max-new-tokens is";
    console.error(`lspo model generate: ${missing} required\n\n${USAGE}`);
    return 2;
  }
  let opts;
  try {
    opts = {
      maxNewTokens: num("max-new-tokens", values["max-new-tokens"], 0, (n) => Number.isInteger(n) && n >= 1, "an integer >= 1"),
      temperature: num("temperature", values.temperature, 0, (n) => n >= 0, "a number >= 0"),
      topP: num("top-p", values["top-p"], 1, (n) => n > 0 && n <= 1, "in (0, 1]"),
      topK: num("top-k", values["top-k"], 0, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0"),
      seed: num("seed", values.seed, 0, (n) => Number.isInteger(n) && n >= 0, "an integer >= 0"),
    };
  } catch (e) {
    console.error(`lspo model generate: ${(e as Error).message}`);
    return 2;
  }
  const device = values.device ?? "cpu";
  if (!["cpu", "webgpu", "cuda"].includes(device)) {
    console.error(`lspo model generate: --device must be cpu, webgpu or cuda, got '${device}'`);
    return 2;
  }
  const [dir] = positionals;
  let model;
  try {
    model = readModelDir(dir);
  } catch (e) {
    console.error(`lspo model generate: ${(e as Error).message}`);
    return 1;
  }
  const tokenizer = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, `${dir}/tokenizer.json`);
  let promptIds: number[];
  if (values["prompt-ids"] !== undefined) {
    promptIds = values["prompt-ids"].split(",").map((x) => Number(x.trim()));
    const bad = promptIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= model.config.vocabSize);
    if (bad >= 0) {
      console.error(`lspo model generate: --prompt-ids: '${values["prompt-ids"].split(",")[bad]}' is not a token id of this model (0..${model.config.vocabSize - 1})`);
      return 2;
    }
  } else promptIds = tokenizer.encode(values.prompt!);
  if (promptIds.length === 0) {
    console.error("lspo model generate: the prompt is empty (no tokens)");
    return 2;
  }
  const t0 = performance.now();
  const decoder = await OnnxDecoder.create(model.config, model.weights, { provider: device as "cpu" | "webgpu" | "cuda" });
  try {
    // The rollout actors' stop set: config.json's and generation_config.json's eos ids.
    const stop = stopTokenIds(model.config, model.generationConfig?.eosTokenIds ?? []);
    const r = await generate(decoder, [promptIds], {
      maxNewTokens: opts.maxNewTokens,
      sampling: { temperature: opts.temperature, topP: opts.topP, topK: opts.topK },
      seed: opts.seed,
      stopTokenIds: stop,
    });
    const ids = r.tokens[0];
    console.log(JSON.stringify({ promptIds, ids, text: tokenizer.decode(ids, { unknownIds: "mark" }), truncated: r.truncated[0], seconds: Number(((performance.now() - t0) / 1000).toFixed(3)) }));
    return 0;
  } finally {
    await decoder.release();
  }
}
