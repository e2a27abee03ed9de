// `lspo status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]`: who holds the run's controller lease,
// the run's actors from the registry, each one's own Status counters over gRPC, and with a run id the run's
// progress from its events (LSPO_EVENTS): from any host that reaches NATS and the actors, without the run
// directory. Liveness is this reader's own observation: it watches for a heartbeat's worth of time and reports
// a running record (or a lease) that got no new revision meanwhile as unresponsive (no comparison with
// writers' clocks).
import { parseArgs } from "node:util";
import { connectBus, busOptionsFromEnv, jetstreamManager, lastEvent, type JetStreamManager } from "@lspo/bus";
import { ActorRegistry, HEARTBEAT_MS, connectClient, type ClientOptions } from "@lspo/actors";
import { ComponentState, LearnerServiceService, RolloutServiceService, SamplerServiceService, VerifierServiceService, type ActorRecord } from "@lspo/proto";
import { readRunInfo } from "../run/run-dir.js";
import { readLease } from "../run/lease.js";
import { GRPC_FLAG_OPTIONS, GRPC_FLAGS_USAGE, operatorClientOptions } from "../operator-grpc.js";

export const summary = "a run's controller, its actors (name, kind, node, pid, state, restarts, their Status counters) and its progress: status [--run-dir <dir> | --nats <url> [--run <id>]] [--json]";

/** How long status watches for heartbeats and lease renewals, and how long each actor's Status call (asked
 *  while the watch runs) may take: a heartbeat and a second, so a live actor renews at least once. */
const DEFAULT_WATCH_S = (HEARTBEAT_MS + 1000) / 1000;

const USAGE = `usage: lspo status [--run-dir <dir> | --nats <url> [--run <id>]] [--json] [--no-counters] [--watch-s <s>]
                   ${GRPC_FLAGS_USAGE}

The NATS URL comes from --nats, the run directory's run.json, or LSPO_NATS_URL; the run id from --run, run.json,
or LSPO_RUN_ID (default "run"). Each actor's counters come from its own Status call, at the address it
registered, with the deployment's gRPC settings (LSPO_GRPC_TLS_*; a read needs no token) or the flags; an actor
that does not answer within the watch is shown as such. --no-counters lists the registry only.
--watch-s (default ${DEFAULT_WATCH_S}) is how long status watches for heartbeats and lease renewals: an actor, agent
or controller that renews nothing in it is shown as unresponsive, silent or not renewing. On a loaded cluster,
where a heartbeat can come late, a longer watch tells a slow component from a stopped one.`;

/** The service whose Status call each actor kind answers. */
const STATUS_SERVICES = {
  rollout: RolloutServiceService,
  verifier: VerifierServiceService,
  sampler: SamplerServiceService,
  learner: LearnerServiceService,
} as const;

/** What an actor's Status call told: its counters, with the response's own fields beside them, or why nothing. */
export type ActorCounters = { counters: Record<string, unknown> } | { unreachable: string };

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
    options: {
      "run-dir": { type: "string" }, nats: { type: "string" }, run: { type: "string" }, json: { type: "boolean" }, "no-counters": { type: "boolean" }, "watch-s": { type: "string" },
      ...GRPC_FLAG_OPTIONS, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  const watchS = values["watch-s"] === undefined ? DEFAULT_WATCH_S : Number(values["watch-s"]);
  if (!Number.isFinite(watchS) || watchS < HEARTBEAT_MS / 1000) {
    console.error(`lspo status: --watch-s must be a number of seconds of at least ${HEARTBEAT_MS / 1000} (one heartbeat), got '${values["watch-s"]}'`);
    return 2;
  }
  const watchMs = watchS * 1000;
  const info = values["run-dir"] ? readRunInfo(values["run-dir"]) : null;
  const url = values.nats ?? info?.natsUrl ?? busOptionsFromEnv().url;
  // A run named (--run, the run dir, LSPO_RUN_ID) also gets its progress; the registry is always per run.
  const namedRun = values.run ?? info?.runId ?? process.env.LSPO_RUN_ID;
  const runId = namedRun ?? "run";
  if (!url) {
    console.error("lspo status: no NATS to ask: pass --nats <url> or --run-dir <dir>, or set LSPO_NATS_URL");
    return 2;
  }
  const client = values["no-counters"] ? null : operatorClientOptions(values);
  const nc = await connectBus({ ...busOptionsFromEnv(), url, name: "lspo-status" });
  try {
    const registry = await ActorRegistry.open(nc, { runId });
    const view = await registry.view();
    // The run's controller: whoever holds its lease (run/lease.ts), alive if it renews it during the watch.
    const jsm = await jetstreamManager(nc);
    const leaseBefore = await readLease(jsm, runId);
    // Asked while the liveness watch runs: the counters of every actor registered at its start.
    // Keyed by kind and name: names are unique within a kind only (each kind has its own registry keys).
    const keyOf = (a: ActorRecord) => `${a.kind}/${a.name}`;
    const asked = new Map(client ? view.actors().map(({ record }) => [keyOf(record), actorCounters(record, client, watchMs)] as const) : []);
    await new Promise((r) => setTimeout(r, watchMs));
    // The agent on each actor's node: "live" if it renewed its node record during the watch, "silent" if not
    // (frozen, or cut off from NATS: its actors may still run, and nothing can stop them through it), null
    // where no agent registered the node (actors run as workloads of their own, as verifiers may be).
    const agentOf = (node: string): "live" | "silent" | null => {
      const records = view.nodesNamed(node);
      if (!records.length) return null;
      return records.some((n) => n.arrivedAt > view.healthySince) ? "live" : "silent";
    };
    const actors = await Promise.all(view.actors().map(async ({ record: a, arrivedAt }) => ({
      name: a.name,
      kind: a.kind,
      node: a.node,
      agent: agentOf(a.node),
      pid: a.pid,
      // A running record with no new revision in a heartbeat and more is reported as such, whatever it says.
      state: a.state === ComponentState.COMPONENT_STATE_RUNNING && arrivedAt <= view.healthySince ? "unresponsive" : STATE_NAMES[a.state] ?? "unknown",
      restarts: a.restarts,
      ...(await asked.get(keyOf(a))),
    })));
    registry.close();
    const leaseAfter = await readLease(jsm, runId);
    const controller = leaseAfter
      ? { pid: leaseAfter.holder?.pid ?? null, host: leaseAfter.holder?.host ?? null, startedAt: leaseAfter.holder?.startedAt ?? null, renewing: leaseAfter.revision !== leaseBefore?.revision }
      : null;
    const progress = namedRun ? await runProgress(jsm, namedRun) : undefined;
    if (values.json) {
      console.log(JSON.stringify(progress ? { controller, actors, run: progress } : { controller, actors }));
    } else {
      console.log(
        controller
          ? `controller: pid ${controller.pid} on ${controller.host}, started ${controller.startedAt}: ${controller.renewing ? "renewing the run's lease" : `its lease was not renewed in the last ${watchS} s (stopped, or cut off from NATS)`}\n`
          : `controller: none holds run '${runId}' (it ended, or has not started)\n`,
      );
      const rows = [["NAME", "KIND", "NODE", "AGENT", "PID", "STATE", "RESTARTS"], ...actors.map((a) => [a.name, a.kind, a.node, a.agent ?? "-", String(a.pid), a.state, String(a.restarts)])];
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c])).join("  "));
      if (client && actors.length) {
        console.log("\nCOUNTERS (each actor's Status)");
        const nameWidth = Math.max(...actors.map((a) => a.name.length));
        const kindWidth = Math.max(...actors.map((a) => a.kind.length));
        for (const a of actors) console.log(`${a.name.padEnd(nameWidth)}  ${a.kind.padEnd(kindWidth)}  ${"counters" in a ? formatCounters(a.counters) : "unreachable" in a ? `unreachable: ${a.unreachable}` : "not asked: registered after the calls went out"}`);
      }
      if (progress) console.log(`\nrun ${runId}: ${JSON.stringify(progress)}`);
    }
    return 0;
  } finally {
    await nc.close();
  }
}

/**
 * One actor's Status, at the address it registered: its counters, and the response's own fields (a policy
 * version, the learner's step and algorithm) among them. A failure is the answer, never a throw: one actor
 * down must not hide the others.
 */
export async function actorCounters(actor: ActorRecord, client: ClientOptions, deadlineMs = DEFAULT_WATCH_S * 1000): Promise<ActorCounters> {
  const service = STATUS_SERVICES[actor.kind as keyof typeof STATUS_SERVICES];
  if (!service) return { unreachable: `kind '${actor.kind}' has no Status call that lspo status knows` };
  if (!actor.grpcAddress) return { unreachable: "it registered no gRPC address" };
  const c = connectClient(service as typeof LearnerServiceService, actor.grpcAddress, {
    ...client,
    // With identities on, the actor must prove the identity of its kind before the call goes out.
    expectIdentity: client.identity ? actor.kind : undefined,
    deadlineMs,
  });
  try {
    const { status, ...fields } = (await c.call.status({})) as unknown as { status?: { counters?: Record<string, unknown> } } & Record<string, unknown>;
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      if (typeof v === "bigint") extra[k] = Number(v);
      else if (k === "algorithm") extra[k] = (v as { name?: string }).name;
      else if (k !== "config") extra[k] = v; // the sampler's whole SamplerConfig: its settings, not counters
    }
    return { counters: { ...extra, ...(status?.counters ?? {}) } };
  } catch (err) {
    return { unreachable: `Status at ${actor.grpcAddress}: ${(err as Error).message}` };
  } finally {
    c.close();
  }
}

/** `k=v` pairs on one line; a nested value (the sampler's outcomes, thresholds) as compact JSON. */
function formatCounters(counters: Record<string, unknown>): string {
  const show = (v: unknown) => (typeof v === "number" ? String(Math.round(v * 1000) / 1000) : typeof v === "string" ? v : JSON.stringify(v));
  return Object.entries(counters).map(([k, v]) => `${k}=${show(v)}`).join(" ") || "(none)";
}

/** The run's newest metric record, evaluation and checkpoint manifest, from its events over NATS. */
async function runProgress(jsm: JetStreamManager, runId: string): Promise<Record<string, unknown>> {
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
