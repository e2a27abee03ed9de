// `lspo train -c <config.yaml> [key=value ...] [--run-dir <dir>] [--resume <run-dir>]`
import { parseArgs } from "node:util";
import { loadConfigFile, resolveConfig } from "@lspo/config";
import { loadRunConfig } from "../run/run-dir.js";
import { train } from "../run/controller.js";

export const summary = "run RL training: train -c <config.yaml> [key=value ...] [--run-dir <dir>] [--resume <run-dir>]";

const USAGE = `usage: lspo train -c <config.yaml> [key=value ...] [--run-dir <dir>]
       lspo train --resume <run-dir> [key=value ...]

Starts an embedded nats-server (unless nats.url is set), a node agent and the actors, evaluates the base
policy on the held-out split, trains for run.steps updates, evaluates again and writes <run-dir>/summary.json.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      "run-dir": { type: "string" },
      resume: { type: "string" },
      quiet: { type: "boolean", short: "q" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  const bad = positionals.filter((p) => !p.includes("="));
  if (bad.length) {
    console.error(`lspo train: unexpected argument '${bad[0]}' (overrides are key=value)\n\n${USAGE}`);
    return 2;
  }
  if (!values.config && !values.resume) {
    console.error(`lspo train: -c <config.yaml> or --resume <run-dir> is required\n\n${USAGE}`);
    return 2;
  }
  const overrides = [...positionals, ...(values["run-dir"] ? [`run.dir=${values["run-dir"]}`] : [])];
  const config = values.resume ? loadRunConfig(values.resume, overrides) : values.config ? loadConfigFile(values.config, overrides) : resolveConfig({}, overrides);
  const s = await train(config, { resume: values.resume, quiet: values.quiet });
  const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
  console.log(
    JSON.stringify({
      dir: s.dir, steps: s.steps, accuracy_metric: s.accuracy_metric, accuracy_before: s.accuracy_before, accuracy_after: s.accuracy_after,
      sampled_accuracy_before: s.sampled_accuracy_before, sampled_accuracy_after: s.sampled_accuracy_after, requested: s.requested,
      trained: s.trained, lost: s.lost, duplicates: s.duplicates, restarts: s.restarts, wallSeconds: Math.round(s.wallSeconds),
    }),
  );
  process.stderr.write(`held-out accuracy (${s.accuracy_metric}) ${pct(s.accuracy_before)} -> ${pct(s.accuracy_after)}; summary: ${s.dir}/summary.json\n`);
  return s.lost === 0 && s.duplicates === 0 ? 0 : 1;
}
