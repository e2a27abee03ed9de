// `lspo agent [--config <file>]`: a node agent for this machine (Kubernetes: one per GPU node). It
// advertises the node's CPUs and GPUs in the registry and starts actors when the controller places them.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { NodeAgent, busOptionsFor, grpcSecurityFrom } from "@lspo/actors";
import { busOptionsFromEnv, connectBus } from "@lspo/bus";
import { loadConfigFile, resolveConfig } from "@lspo/config";
import { ACTOR_KINDS, selfLauncher } from "../launcher.js";

export const summary = "run a node agent: agent [--config <file>] (GPUs from LSPO_GPU_IDS, actors per GPU from LSPO_ACTORS_PER_GPU)";

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log("usage: lspo agent [--config <file>] [key=value ...]\n\nEnv: LSPO_NATS_URL, LSPO_NODE_NAME, LSPO_GPU_IDS (e.g. 0,1,2,3), LSPO_ACTORS_PER_GPU, LSPO_GRPC_PORT (agent), LSPO_ACTOR_PORT_BASE.");
    return 0;
  }
  const config = values.config ? loadConfigFile(values.config, positionals) : resolveConfig({}, positionals);
  const url = busOptionsFromEnv().url ?? config.nats.url;
  if (!url) {
    console.error("lspo agent: no NATS URL (LSPO_NATS_URL or nats.url)");
    return 2;
  }
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
    cpus: availableParallelism(),
    replicas: config.nats.replicas,
    gpuIds,
    actorsPerGpu: perGpu,
    launcher: selfLauncher,
    kinds: ACTOR_KINDS,
    ...grpcSecurityFrom(config.security).server,
    host: process.env.LSPO_GRPC_HOST ?? "0.0.0.0",
    port: Number(process.env.LSPO_GRPC_PORT ?? 50056),
    portBase: process.env.LSPO_ACTOR_PORT_BASE ? Number(process.env.LSPO_ACTOR_PORT_BASE) : undefined,
  });
  console.error(`[agent ${agent.node}] serving on ${agent.address}: ${gpuIds.length} GPUs x ${perGpu} actors`);
  await new Promise<void>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => resolve());
  });
  await agent.stop(); // drains in-flight generations (SIGTERM to each actor, grace, SIGKILL)
  await nc.close();
  return 0;
}
