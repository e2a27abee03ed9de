// `lspo serve <kind>`: run one service process (what the node agent launches, and what a container runs).
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { busOptionsFor, configFromEnvOrArgs } from "@lspo/actors";
import { connectBus, localModelDir } from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { serveHealth } from "@lspo/telemetry";
import { envInt } from "../env.js";

export const summary = "run one service process: serve <rollout|verifier|sampler|learner> [--config <file> key=value ...]";

const SERVICES: Record<string, () => Promise<(config: ReturnType<typeof configFromEnvOrArgs>) => Promise<unknown>>> = {
  rollout: async () => (await import("@lspo/rollout")).runRollout,
  verifier: async () => (await import("@lspo/verifier")).runVerifier,
  sampler: async () => (await import("@lspo/sampler")).runSampler,
  learner: async () => (await import("@lspo/learner")).runLearner,
};

export async function run(argv: string[]): Promise<number> {
  const [kind, ...rest] = argv;
  if (!kind || kind === "--help" || kind === "-h") {
    console.log(`usage: lspo serve <${Object.keys(SERVICES).join("|")}> [--config <file> [key=value ...]]\n\nWithout --config, the run config is read from LSPO_ACTOR_CONFIG (JSON), as the node agent passes it.`);
    return kind ? 0 : 2;
  }
  const load = SERVICES[kind];
  if (!load) {
    console.error(`lspo serve: unknown service '${kind}'. Valid: ${Object.keys(SERVICES).join(", ")}`);
    return 2;
  }
  let config = configFromEnvOrArgs(rest);
  // LSPO_DEVICE (set per node pool in Kubernetes) overrides model.device, validated like any override.
  if (process.env.LSPO_DEVICE) config = resolveConfig(config, [`model.device=${process.env.LSPO_DEVICE}`], "LSPO_DEVICE");
  // A service run as its own workload (Kubernetes: the verifiers) answers the kubelet on a plaintext port.
  let ready = false;
  if (process.env.LSPO_HEALTH_PORT) await serveHealth({ ready: () => (ready ? null : "starting") }, envInt("LSPO_HEALTH_PORT", 0, 1));
  config = await withLocalModel(config, kind);
  await (await load())(config);
  ready = true;
  // The service runs until SIGTERM (its context drains and exits).
  return new Promise<number>(() => undefined);
}

/**
 * model.dir is the controller's path; on a host without it the run's model is fetched from NATS (the
 * controller published it) into LSPO_STATE_DIR or a temporary directory, digests checked.
 */
async function withLocalModel(config: RunConfig, kind: string): Promise<RunConfig> {
  if (!config.model.dir || existsSync(join(config.model.dir, "config.json"))) return config;
  const nc = await connectBus(busOptionsFor(config, `${kind}-model-fetch`));
  try {
    // A service run as its own workload (a verifier pod) may start before the run: it waits for the model.
    // One an agent started was placed after the controller published it: no wait.
    const waitMs = process.env.LSPO_ACTOR_CONFIG ? 0 : Number.MAX_SAFE_INTEGER;
    const dir = await localModelDir(nc, config.run.name, config.model.dir, process.env.LSPO_STATE_DIR || tmpdir(), waitMs, (m) => process.stderr.write(`[${kind}] ${m}\n`));
    return { ...config, model: { ...config.model, dir } };
  } finally {
    await nc.close();
  }
}
