// `lspo status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]`: the actors of one run, from the registry.
// Liveness is this reader's own observation: it watches for a heartbeat's worth of time and reports a
// running record that got no new revision meanwhile as unresponsive (no comparison with writers' clocks).
import { parseArgs } from "node:util";
import { connectBus, busOptionsFromEnv } from "@lspo/bus";
import { ActorRegistry, HEARTBEAT_MS } from "@lspo/actors";
import { ComponentState } from "@lspo/proto";
import { readRunInfo } from "../run/run-dir.js";

export const summary = "list a run's actors (name, kind, node, pid, state, restarts): status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]";

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
  const url = values.nats ?? (values["run-dir"] ? readRunInfo(values["run-dir"]).natsUrl : busOptionsFromEnv().url);
  if (!url) {
    console.error("lspo status: no NATS to ask: pass --nats <url> or --run-dir <dir>, or set LSPO_NATS_URL");
    return 2;
  }
  const nc = await connectBus({ ...busOptionsFromEnv(), url, name: "lspo-status" });
  try {
    const runId = values.run ?? (values["run-dir"] ? readRunInfo(values["run-dir"]).runId : process.env.LSPO_RUN_ID) ?? "run";
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
    if (values.json) {
      console.log(JSON.stringify({ actors }));
    } else {
      const rows = [["NAME", "KIND", "NODE", "PID", "STATE", "RESTARTS"], ...actors.map((a) => [a.name, a.kind, a.node, String(a.pid), a.state, String(a.restarts)])];
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  "));
    }
    return 0;
  } finally {
    await nc.close();
  }
}
