// `lspo agent [--config <file>]`: a node agent for this machine (Kubernetes: one per GPU node). It
// advertises the node's CPUs, GPUs and labels in the run's registry and starts actors when the controller
// places them. The run id comes from --run, LSPO_RUN_ID or the config's run.name.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { NodeAgent, busOptionsFor, checkRunId, grpcSecurityFrom, parseLabels } from "@lspo/actors";
import { busOptionsFromEnv, connectBus } from "@lspo/bus";
import { loadConfigFile, resolveConfig } from "@lspo/config";
import { ACTOR_KINDS, selfLauncher } from "../launcher.js";

export const summary = "run a node agent: agent [--config <file>] [--run <id>] (GPUs from LSPO_GPU_IDS, actors per GPU from LSPO_ACTORS_PER_GPU, labels from LSPO_NODE_LABELS)";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, run: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(
      "usage: lspo agent [--config <file>] [--run <id>] [key=value ...]\n\nEnv: LSPO_NATS_URL, LSPO_RUN_ID, LSPO_NODE_NAME, LSPO_NODE_LABELS (e.g. role=rollout,zone=a), LSPO_AGENT_CPUS, LSPO_GPU_IDS (e.g. 0,1,2,3),\nLSPO_ACTORS_PER_GPU, LSPO_GRPC_PORT (agent), LSPO_ACTOR_PORT_BASE, LSPO_ADVERTISE_HOST (the address other hosts dial).",
    );
    return 0;
  }
  const config = values.config ? loadConfigFile(values.config, positionals) : resolveConfig({}, positionals);
  const url = busOptionsFromEnv().url ?? config.nats.url;
  if (!url) {
    console.error("lspo agent: no NATS URL (LSPO_NATS_URL or nats.url)");
    return 2;
  }
  const runId = checkRunId(values.run ?? process.env.LSPO_RUN_ID ?? config.run.name, "run id (--run, LSPO_RUN_ID or run.name)");
  const labels = parseLabels(process.env.LSPO_NODE_LABELS ?? "");
  // The CPUs placement may hand out here: the machine's by default; more oversubscribes (actors mostly wait).
  const cpus = Number(process.env.LSPO_AGENT_CPUS ?? availableParallelism());
  if (!Number.isFinite(cpus) || cpus <= 0) throw new Error(`LSPO_AGENT_CPUS must be a number > 0, got ${process.env.LSPO_AGENT_CPUS}`);
  const gpuIds = (process.env.LSPO_GPU_IDS ?? "").split(",").filter(Boolean).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`LSPO_GPU_IDS: '${s}' is not a GPU index`);
    return n;
  });
  const perGpu = Number(process.env.LSPO_ACTORS_PER_GPU ?? config.rollout.actorsPerGpu);
  if (!Number.isInteger(perGpu) || perGpu < 1) throw new Error(`LSPO_ACTORS_PER_GPU must be an integer >= 1, got ${process.env.LSPO_ACTORS_PER_GPU}`);
  // NATS credentials and TLS from the config or LSPO_NATS_* env; gRPC TLS and control token likewise.
  const nc = await connectBus(busOptionsFor(config, "node-agent"));
  const agent = await NodeAgent.start(nc, {
    runId,
    replicas: config.nats.replicas,
    labels,
    cpus,
    gpuIds,
    actorsPerGpu: perGpu,
    launcher: selfLauncher,
    kinds: ACTOR_KINDS,
    ...grpcSecurityFrom(config.security).server,
    host: process.env.LSPO_GRPC_HOST ?? "0.0.0.0",
    port: Number(process.env.LSPO_GRPC_PORT ?? 50056),
    portBase: process.env.LSPO_ACTOR_PORT_BASE ? Number(process.env.LSPO_ACTOR_PORT_BASE) : undefined,
  });
  console.error(`[agent ${agent.node}] run ${runId}, serving on ${agent.address}: ${gpuIds.length} GPUs x ${perGpu} actors, labels ${process.env.LSPO_NODE_LABELS ?? "none"}`);
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => resolve());
  });
  await agent.stop(); // drains in-flight generations (SIGTERM to each actor, grace, SIGKILL)
  await nc.close();
  return 0;
}
