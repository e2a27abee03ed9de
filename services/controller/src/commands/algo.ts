// `lspo algo`: check the base algorithms by hand. `loss` prints the reference loss and d loss / d logp for
// a batch in a file; `show` prints the resolved spec (preset + overrides) that `loss` would use.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  type AlgorithmSpec,
  InvalidBatchError,
  InvalidSpecError,
  NonFiniteLossError,
  PARAM_DOCS,
  evaluateBatch,
  parseOverrides,
  presets,
  presetSpec,
} from "@lspo/algos";
import { UsageError, runSubcommand } from "../subcommands.js";

export const summary = "base algorithms: `algo loss` (reference loss + d loss/d logp for a batch), `algo show` (resolved spec)";

const USAGE = `usage:
  lspo algo loss --algo <name> [--set key=value ...] [--metrics] --in <batch.json | ->
  lspo algo show --algo <name> [--set key=value ...]

--algo     one of: ${presets.names().join(", ")}
--set      override one parameter (repeatable); value parsed as number, true/false, null, else string
--in       {"groups": [{"rewards": [R_1..R_G], "responses": [{"logp": [...], "logp_old": [...],
           "logp_ref": [...] (when kl_coef > 0), "entropy": [...] (when entropy_coef > 0),
           "truncated": true (optional, for overlong_filter)}, ...]}, ...]}; "-" reads stdin.
           A response's length for overlong shaping is its token count (logp.length).
--metrics  also print "metrics" (clip fractions, approx KL, mean |A|, entropy) and "advantages"

Prints one JSON object {"loss": number, "grad_logp": [[[...]]]} (groups -> responses -> tokens).
A NaN or infinite loss or gradient is an error naming the group, response and token (exit code 1).

parameters:
${Object.entries(PARAM_DOCS).map(([k, doc]) => `  ${k.padEnd(26)}${doc}`).join("\n")}`;

const OPTIONS = {
  algo: { type: "string" },
  set: { type: "string", multiple: true },
  in: { type: "string" },
  metrics: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function specFrom(values: { algo?: string; set?: string[] }): AlgorithmSpec {
  if (values.algo === undefined) throw new UsageError(`--algo is required; valid: ${presets.names().join(", ")}`);
  return presetSpec(values.algo, parseOverrides(values.set ?? []));
}

async function readInput(path: string): Promise<unknown> {
  const text = path === "-" ? await readStdin() : await readFile(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidBatchError(path === "-" ? "<stdin>" : path, `invalid JSON: ${(e as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function loss(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (the batch goes in --in)`);
  const spec = specFrom(values);
  if (values.in === undefined) throw new UsageError("--in <batch.json> is required (\"-\" for stdin)");
  const r = evaluateBatch(spec, await readInput(values.in));
  const out: Record<string, unknown> = { loss: r.loss, grad_logp: r.gradLogp };
  if (values.metrics) Object.assign(out, { metrics: r.metrics, advantages: r.advantages });
  console.log(JSON.stringify(out));
  return 0;
}

async function show(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.in !== undefined || values.metrics) throw new UsageError("`algo show` takes only --algo and --set");
  console.log(JSON.stringify(specFrom(values), null, 2));
  return 0;
}

export function run(argv: string[]): Promise<number> {
  return runSubcommand(argv, {
    command: "algo",
    usage: USAGE,
    handlers: { loss, show },
    inputErrors: [InvalidSpecError, InvalidBatchError, NonFiniteLossError],
  });
}
