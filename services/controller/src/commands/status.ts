// `lspo status [--run-dir <dir> | --nats <url>] [--json]`: the actors of a running system, from the registry.
import { parseArgs } from "node:util";
import { connectBus, busOptionsFromEnv } from "@lspo/bus";
import { ActorRegistry, isLive } from "@lspo/actors";
import { ComponentState } from "@lspo/proto";
import { readRunInfo } from "../run/run-dir.js";

export const summary = "list actors (name, kind, node, pid, state, restarts): status [--run-dir <dir> | --nats <url>] [--json]";

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
    options: { "run-dir": { type: "string" }, nats: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  });
  if (values.help) {
    console.log("usage: lspo status [--run-dir <dir> | --nats <url>] [--json]\n\nThe NATS URL comes from --nats, the run directory's run.json, or LSPO_NATS_URL.");
    return 0;
  }
  const url = values.nats ?? (values["run-dir"] ? readRunInfo(values["run-dir"]).natsUrl : busOptionsFromEnv().url);
  if (!url) {
    console.error("lspo status: no NATS to ask: pass --nats <url> or --run-dir <dir>, or set LSPO_NATS_URL");
    return 2;
  }
  const nc = await connectBus({ ...busOptionsFromEnv(), url, name: "lspo-status" });
  try {
    const registry = await ActorRegistry.open(nc);
    const actors = (await registry.listActors()).map((a) => ({
      name: a.name,
      kind: a.kind,
      node: a.node,
      pid: a.pid,
      // A record whose heartbeat stopped is reported as such, whatever it last said.
      state: a.state === ComponentState.COMPONENT_STATE_RUNNING && !isLive(a.heartbeatAt) ? "unresponsive" : STATE_NAMES[a.state] ?? "unknown",
      restarts: a.restarts,
    }));
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
