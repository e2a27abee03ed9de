// `lspo model verify <hf-model-dir> --reference <reference.safetensors>`: loads the model through the
// public API and prints a JSON report comparing our logits, loss, every gradient and (when reference.json
// sits beside the reference file) the greedy generation and tokenizer cases with transformers' numbers.
// Exit 0 only when every check is within the fixture README's tolerances.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type Provider, type ReferenceJson, decodeEntry, parseSafetensors, verifyAgainstReference } from "@lspo/model";
import { readModelDir } from "@lspo/tasks";

export const USAGE = `usage: lspo model verify <hf-model-dir> --reference <reference.safetensors> [--provider cpu|cuda|webgpu]

Loads <hf-model-dir> (config.json, model.safetensors or a sharded index, tokenizer.json) and compares,
against the reference (the format of test/fixtures/hf/llama, see its README):
  logits      max abs err <= 1e-4
  loss        abs err <= 1e-4
  gradients   every parameter: max abs err <= 1e-4 + 1e-3 * max|reference|
  greedy      left-padded batched greedy output identical      (needs reference.json beside the reference)
  tokenizer   ids and decoded text identical                    (needs reference.json beside the reference)
Prints one JSON report; exit code 0 only when all checks pass, 1 otherwise.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { reference: { type: "string", short: "r" }, provider: { type: "string" }, help: { type: "boolean", short: "h" } },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length !== 1 || !values.reference) {
    console.error(`lspo model verify: ${positionals.length !== 1 ? "expected one model directory" : "--reference is required"}\n\n${USAGE}`);
    return 2;
  }
  // An unknown or unavailable provider is refused when the first session starts, naming the valid ones.
  const provider = (values.provider ?? "cpu") as Provider;
  const model = readModelDir(positionals[0]);
  if (!existsSync(values.reference)) {
    console.error(`lspo model verify: reference file ${values.reference} does not exist`);
    return 2;
  }
  const file = parseSafetensors(new Uint8Array(readFileSync(values.reference)), values.reference);
  const reference = new Map([...file.tensors].map(([name, e]) => [name, decodeEntry(e)]));
  const jsonPath = path.join(path.dirname(values.reference), "reference.json");
  let referenceJson: ReferenceJson | null = null;
  if (existsSync(jsonPath)) {
    try {
      referenceJson = JSON.parse(readFileSync(jsonPath, "utf8")) as ReferenceJson;
    } catch (e) {
      console.error(`lspo model verify: ${jsonPath} is not valid JSON (${(e as Error).message})`);
      return 2;
    }
  }
  const report = await verifyAgainstReference(model, reference, referenceJson, { provider });
  console.log(JSON.stringify({ model_dir: positionals[0], reference: values.reference, reference_json: referenceJson ? jsonPath : null, ...report }, null, 2));
  return report.ok ? 0 : 1;
}
