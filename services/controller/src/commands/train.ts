// `lspo train -c <config.yaml> [key=value ...] [--run-dir <dir>] [--resume <run-dir>]`
import { parseArgs } from "node:util";
import { loadConfigFile, resolveConfig } from "@lspo/config";
import { Gauge, createRegistry, serveHealth, serveMetrics } from "@lspo/telemetry";
import { envInt } from "../env.js";
import { loadRunConfig } from "../run/run-dir.js";
import { train } from "../run/controller.js";

export const summary = "run RL training: train -c <config.yaml> [key=value ...] [--run-dir <dir>] [--resume <run-dir>]";

const USAGE = `usage: lspo train -c <config.yaml> [key=value ...] [--run-dir <dir>]
       lspo train --resume <run-dir> [key=value ...]

Starts an embedded nats-server (unless nats.url or LSPO_NATS_URL is set), a node agent (unless
cluster.agents is "remote") and the actors, evaluates the base policy on the held-out split, trains for
run.steps updates, evaluates again and writes <run-dir>/summary.json.
LSPO_HEALTH_PORT: plaintext /healthz and /readyz; LSPO_METRICS_PORT: Prometheus /metrics (run step).`;

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
  const servers: Array<{ close(): Promise<void> }> = [];
  let onStep: ((step: number) => void) | undefined;
  if (process.env.LSPO_HEALTH_PORT) servers.push(await serveHealth({}, envInt("LSPO_HEALTH_PORT", 0, 1)));
  if (process.env.LSPO_METRICS_PORT) {
    const registry = createRegistry("controller", true, { run: config.run.name });
    const step = new Gauge({ name: "lspo_run_step", help: "Learner updates the run has made", registers: [registry] });
    onStep = (s) => step.set(s);
    servers.push(await serveMetrics(registry, envInt("LSPO_METRICS_PORT", 0, 1)));
  }
  const s = await train(config, { resume: values.resume, quiet: values.quiet, onStep }).finally(async () => {
    for (const server of servers) await server.close();
  });
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
