// `lspo status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]`: the actors of a running system, from the
// registry, and with a run id the run's progress from its events (LSPO_EVENTS): from any host that reaches
// NATS, without the run directory. Liveness is this reader's own observation: it watches for a heartbeat's
// worth of time and reports a running record that got no new revision meanwhile as unresponsive (no
// comparison with writers' clocks).
import { parseArgs } from "node:util";
import { connectBus, busOptionsFromEnv, jetstreamManager, lastEvent } from "@lspo/bus";
import { ActorRegistry, HEARTBEAT_MS } from "@lspo/actors";
import { ComponentState } from "@lspo/proto";
import { readRunInfo } from "../run/run-dir.js";

export const summary = "list actors (name, kind, node, pid, state, restarts) and a run's progress: status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]";

const STATE_NAMES: Record<number, string> = {
  [ComponentState.COMPONENT_STATE_UNSPECIFIED]: "unknown",
  [ComponentState.COMPONENT_STATE_STARTING]: "starting",
  [ComponentState.COMPONENT_STATE_RUNNING]: "running",
  [ComponentState.COMPONENT_STATE_DRAINING]: "draining",
  [ComponentState.COMPONENT_STATE_STOPPED]: "stopped",
  [ComponentState.COMPONENT_STATE_FAILED]: "failed",
};

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { "run-dir": { type: "string" }, nats: { type: "string" }, run: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    console.log("usage: lspo status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]\n\nThe NATS URL comes from --nats, the run directory's run.json, or LSPO_NATS_URL; the run id from --run, run.json, or LSPO_RUN_ID (default \"run\").");
    return 0;
  }
  const info = values["run-dir"] ? readRunInfo(values["run-dir"]) : null;
  const url = values.nats ?? info?.natsUrl ?? busOptionsFromEnv().url;
  // A run named (--run, the run dir, LSPO_RUN_ID) also gets its progress; the registry is always per run.
  const namedRun = values.run ?? info?.runId ?? process.env.LSPO_RUN_ID;
  const runId = namedRun ?? "run";
  if (!url) {
    console.error("lspo status: no NATS to ask: pass --nats <url> or --run-dir <dir>, or set LSPO_NATS_URL");
    return 2;
  }
  const nc = await connectBus({ ...busOptionsFromEnv(), url, name: "lspo-status" });
  try {
    const registry = await ActorRegistry.open(nc, { runId });
    const view = await registry.view();
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS + 1000));
    const actors = view.actors().map(({ record: a, arrivedAt }) => ({
      name: a.name,
      kind: a.kind,
      node: a.node,
      pid: a.pid,
      // A running record with no new revision in a heartbeat and more is reported as such, whatever it says.
      state: a.state === ComponentState.COMPONENT_STATE_RUNNING && arrivedAt <= view.healthySince ? "unresponsive" : STATE_NAMES[a.state] ?? "unknown",
      restarts: a.restarts,
    }));
    registry.close();
    const progress = namedRun ? await runProgress(nc, namedRun) : undefined;
    if (values.json) {
      console.log(JSON.stringify(progress ? { actors, run: progress } : { actors }));
    } else {
      const rows = [["NAME", "KIND", "NODE", "PID", "STATE", "RESTARTS"], ...actors.map((a) => [a.name, a.kind, a.node, String(a.pid), a.state, String(a.restarts)])];
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  "));
      if (progress) console.log(`\nrun ${runId}: ${JSON.stringify(progress)}`);
    }
    return 0;
  } finally {
    await nc.close();
  }
}

/** The run's newest metric record, evaluation and checkpoint manifest, from its events over NATS. */
async function runProgress(nc: Awaited<ReturnType<typeof connectBus>>, runId: string): Promise<Record<string, unknown>> {
  const jsm = await jetstreamManager(nc);
  const [metric, evaluation, checkpoint] = await Promise.all(
    (["metric", "eval", "checkpoint"] as const).map((k) => lastEvent(jsm, runId, k).catch((err: Error) => ({ seq: 0, kind: k, body: { unreadable: err.message } }))),
  );
  if (!metric && !evaluation && !checkpoint) return { events: `none for run '${runId}' on this NATS (wrong --run, or the run has not started)` };
  const pick = (b: Record<string, unknown> | undefined, keys: string[]) => (b ? Object.fromEntries(keys.filter((k) => k in b).map((k) => [k, b[k]])) : null);
  return {
    last: pick(metric?.body, ["event", "step", "time", "loss", "meanReward", "algorithm", "error"]),
    eval: pick(evaluation?.body, ["step", "accuracy", "sampledAccuracy", "time"]),
    checkpoint: pick(checkpoint?.body, ["step", "node", "dir", "time"]),
  };
}
