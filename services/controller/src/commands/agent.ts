// `lspo agent [--config <file>]`: a node agent (Kubernetes: the pods of every lspo workload but the
// controller's Job). It advertises its CPUs, GPUs and labels in the run's registry and starts actors when the
// controller places them: only the kinds in LSPO_AGENT_KINDS, which carry this pod's NATS identity. The run
// id comes from --run, LSPO_RUN_ID or the config's run.name.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { NodeAgent, busOptionsFor, checkRunId, detectGpus, grpcSecurityFrom, parseLabels, registryIdentityOf } from "@lspo/actors";
import { busOptionsFromEnv, connectBus } from "@lspo/bus";
import { loadConfigFile, resolveConfig } from "@lspo/config";
import { createRegistry, fetchMetricsJson, serveHealth, serveMetrics } from "@lspo/telemetry";
import { ACTOR_KINDS, selfLauncher } from "../launcher.js";
import { envInt } from "../env.js";

export const summary = "run a node agent: agent [--config <file>] [--run <id>] (kinds from LSPO_AGENT_KINDS, GPUs detected or LSPO_GPU_IDS, actors per GPU from LSPO_ACTORS_PER_GPU)";

const HELP = `usage: lspo agent [--config <file>] [--run <id>] [key=value ...]

Env: LSPO_NATS_URL, LSPO_RUN_ID, LSPO_NODE_NAME, LSPO_NODE_LABELS (e.g. role=rollout,zone=a),
LSPO_AGENT_KINDS (actor kinds this agent starts, e.g. rollout; default all), LSPO_AGENT_CPUS,
LSPO_GPU_IDS (e.g. 0,1; default: NVIDIA_VISIBLE_DEVICES or /dev/nvidiaN), LSPO_ACTORS_PER_GPU,
LSPO_GRPC_PORT (agent), LSPO_ACTOR_PORT_BASE (actor k serves on base + k), LSPO_ADVERTISE_HOST,
LSPO_DRAIN_S (SIGTERM: how long actors may take to finish; keep it under the pod's grace period),
LSPO_HEALTH_PORT (plaintext /healthz, /readyz), LSPO_METRICS_PORT (/metrics of the agent and its actors).`;

/** Loopback ports of the actors' metrics: actor k on METRICS_LOOPBACK_BASE + k (never exposed). */
const METRICS_LOOPBACK_BASE = 19_400;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, run: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return (console.log(HELP), 0);
  const env = process.env;
  const config = values.config ? loadConfigFile(values.config, positionals) : resolveConfig({}, positionals);
  const url = busOptionsFromEnv().url ?? config.nats.url;
  if (!url) {
    console.error("lspo agent: no NATS URL (LSPO_NATS_URL or nats.url)");
    return 2;
  }
  const runId = checkRunId(values.run ?? env.LSPO_RUN_ID ?? config.run.name, "run id (--run, LSPO_RUN_ID or run.name)");
  const labels = parseLabels(env.LSPO_NODE_LABELS ?? "");
  const kinds = (env.LSPO_AGENT_KINDS ?? "").split(",").map((k) => k.trim()).filter(Boolean);
  for (const k of kinds) {
    if (!(ACTOR_KINDS as readonly string[]).includes(k)) throw new Error(`LSPO_AGENT_KINDS: unknown actor kind '${k}'; valid: ${ACTOR_KINDS.join(", ")}`);
  }
  // The CPUs placement may hand out here: the machine's by default; more oversubscribes (actors mostly wait).
  const cpus = Number(env.LSPO_AGENT_CPUS ?? availableParallelism());
  if (!Number.isFinite(cpus) || cpus <= 0) throw new Error(`LSPO_AGENT_CPUS must be a number > 0, got ${env.LSPO_AGENT_CPUS}`);
  const gpus = detectGpus(env);
  const perGpu = envInt("LSPO_ACTORS_PER_GPU", config.rollout.actorsPerGpu, 1);
  const drainS = envInt("LSPO_DRAIN_S", 10, 1);
  const healthPort = env.LSPO_HEALTH_PORT ? envInt("LSPO_HEALTH_PORT", 0, 1) : 0;
  const metricsPort = env.LSPO_METRICS_PORT ? envInt("LSPO_METRICS_PORT", 0, 1) : 0;
  // NATS credentials and TLS from the config or LSPO_NATS_* env; gRPC TLS and control token likewise.
  const busOptions = busOptionsFor(config, "node-agent");
  const security = grpcSecurityFrom(config.security);
  const identity = registryIdentityOf(busOptions, security);
  const nc = await connectBus(busOptions);
  const agent = await NodeAgent.start(nc, {
    identity,
    runId,
    replicas: config.nats.replicas,
    labels,
    cpus,
    gpuIds: gpus.ids,
    actorsPerGpu: perGpu,
    launcher: selfLauncher,
    kinds: kinds.length ? kinds : ACTOR_KINDS,
    drainMs: drainS * 1000,
    ...security.server,
    host: env.LSPO_GRPC_HOST ?? "0.0.0.0",
    port: envInt("LSPO_GRPC_PORT", 50056, 0), // 0: any free port
    portBase: env.LSPO_ACTOR_PORT_BASE ? envInt("LSPO_ACTOR_PORT_BASE", 0, 1) : undefined,
    metricsPortBase: metricsPort ? METRICS_LOOPBACK_BASE : undefined,
  });
  let stopping = false;
  const servers: Array<{ close(): Promise<void> }> = [];
  // Liveness is this process answering (its actors are other processes: a learner deep in a long update
  // never makes its agent look dead). Readiness: registered, connected to NATS, not draining.
  if (healthPort) {
    servers.push(await serveHealth({ live: () => null, ready: () => (stopping ? "draining" : nc.isClosed() ? "NATS connection closed" : null) }, healthPort));
  }
  if (metricsPort) {
    const registry = createRegistry("agent", true, { node: agent.node });
    const merge = async () => (await Promise.all(agent.metricsPorts().map((p) => fetchMetricsJson(`http://127.0.0.1:${p}/metrics.json`)))).filter((m) => m !== null);
    servers.push(await serveMetrics(registry, metricsPort, "0.0.0.0", { merge }));
  }
  console.error(
    `[agent ${agent.node}] run ${runId}, serving on ${agent.address}: kinds ${kinds.join(",") || "all"}, ${gpus.ids.length} GPUs (${gpus.source}) x ${perGpu} actors, labels ${env.LSPO_NODE_LABELS ?? "none"}, drain ${drainS} s`,
  );
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => resolve());
  });
  stopping = true;
  await agent.stop(); // drains in-flight generations (SIGTERM to each actor, LSPO_DRAIN_S, SIGKILL)
  for (const s of servers) await s.close();
  await nc.close();
  return 0;
}
