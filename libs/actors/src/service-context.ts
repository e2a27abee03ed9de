// What every service process starts with: its run config, a NATS connection (with the run's streams),
// a logger, the run's subjects, and one owner for every resource, disposed in reverse order on SIGTERM
// (drain: stop taking work, finish and ack what is in hand, deregister, close).
import { hostname } from "node:os";
import { loadConfigFile, resolveConfig, type RunConfig } from "@lspo/config";
import {
  connectBus, ensureConsumer, ensureStreams, settledWithin, streamLimitsOf, jetstream, jetstreamManager, subjectFor,
  type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import { createLogger, createRegistry, serveMetrics, type Logger, type Registry } from "@lspo/telemetry";
import { busOptionsFor, grpcSecurityFrom, type GrpcSecurity } from "./security.js";
import { pipelineConsumer, type PipelineStage } from "./pipeline-consumers.js";

export interface RunSubjects {
  prompts: string;
  rollouts: string;
  verified: string;
  batches: string;
}

export interface ServiceContext {
  readonly kind: string;
  readonly name: string;
  readonly node: string;
  readonly config: RunConfig;
  readonly runId: string;
  readonly subjects: RunSubjects;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly log: Logger;
  /** This process's Prometheus metrics (process defaults, labelled component and actor); served on
   *  LSPO_METRICS_PORT when set (an agent's actors: on loopback, merged into the agent's /metrics). */
  readonly metrics: Registry;
  /** Bearer token for state-changing gRPC calls ("" = none). */
  readonly controlToken: string;
  /** gRPC TLS and token, for serving (`...ctx.grpc.server` in serveActor's options) and for calling. */
  readonly grpc: GrpcSecurity;
  /** Registers a disposer; disposers run in reverse order on shutdown. */
  own(dispose: () => Promise<void> | void): void;
  /** This stage's durable consumer (pipeline-consumers.ts): bound as the controller made it, created only
   *  where missing (a run without per-identity permissions). */
  stageConsumer(stage: PipelineStage): Promise<string>;
  shutdown(reason: string): Promise<void>;
  /** True from the moment the shutdown begins (a signal, or a failure's own shutdown). */
  readonly stopping: boolean;
  /**
   * Ends the service for work that failed (`what`: "rollout loop", "sampler loop"): logs "<what> failed", runs
   * `report` (a last record, best effort), shuts down and exits 1, so the agent or Kubernetes restarts it. Once
   * the stop has begun the failure is the stop's doing (the connection closing under a publish, NATS away
   * during a drain) and not the service's: it is logged as a warning, and the stop's own exit stands. What the
   * work left undone is redelivered to the restart, as after a crash.
   */
  fail(what: string, err: Error, report?: () => Promise<unknown>): void;
}

export function runSubjects(runId: string): RunSubjects {
  return {
    prompts: subjectFor("prompts", runId),
    rollouts: subjectFor("rollouts", runId),
    verified: subjectFor("verified", runId),
    batches: subjectFor("batches", runId),
  };
}

/** The run config handed to an actor: LSPO_ACTOR_CONFIG (JSON, from the node agent) or `--config <file>`. */
export function configFromEnvOrArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunConfig {
  const i = argv.indexOf("--config");
  if (i >= 0) {
    if (!argv[i + 1]) throw new Error("--config needs a file path");
    return loadConfigFile(argv[i + 1], argv.slice(i + 2).filter((a) => a.includes("=")));
  }
  if (env.LSPO_ACTOR_CONFIG) return resolveConfig(JSON.parse(env.LSPO_ACTOR_CONFIG), [], "LSPO_ACTOR_CONFIG");
  throw new Error("no run config: pass --config <file> or set LSPO_ACTOR_CONFIG");
}

/** How long a stopping service waits for NATS to confirm its drain before it closes the connection. */
const NATS_DRAIN_MS = 5000;

export async function createServiceContext(kind: string, config: RunConfig, env: NodeJS.ProcessEnv = process.env): Promise<ServiceContext> {
  const name = env.LSPO_ACTOR_NAME ?? `${kind}-0`;
  const log = createLogger(name);
  const grpc = grpcSecurityFrom(config.security, env);
  const nc = await connectBus(busOptionsFor(config, name, env));
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { replicas: config.nats.replicas, limits: streamLimitsOf(config.bus), duplicateWindowMs: config.bus.duplicateWindowS * 1000 });
  const js = jetstream(nc);
  const disposers: Array<() => Promise<void> | void> = [];
  // Process metrics (GC, event-loop lag) are collected only where something serves them: no observers on
  // the hot path of a run nobody scrapes (tests, single-host runs).
  const metrics = createRegistry(kind, Boolean(env.LSPO_METRICS_PORT), { actor: name });
  if (env.LSPO_METRICS_PORT) {
    const server = await serveMetrics(metrics, Number(env.LSPO_METRICS_PORT), env.LSPO_METRICS_HOST || "0.0.0.0");
    disposers.push(() => server.close());
  }
  let shuttingDown: Promise<void> | null = null;
  // Set before the first disposer runs (which the shutdown's body calls before shuttingDown is assigned).
  let stopping = false;

  const ctx: ServiceContext = {
    kind,
    name,
    node: env.LSPO_NODE_NAME ?? hostname(),
    config,
    runId: config.run.name,
    subjects: runSubjects(config.run.name),
    nc,
    js,
    jsm,
    log,
    metrics,
    controlToken: grpc.server.controlToken ?? "",
    grpc,
    own: (d) => void disposers.push(d),
    async stageConsumer(stage) {
      const c = pipelineConsumer(stage, config);
      await ensureConsumer(jsm, c.stream, c.durable, { filterSubject: c.subject, ...c.opts });
      return c.durable;
    },
    get stopping() {
      return stopping;
    },
    fail(what, err, report) {
      if (stopping) {
        log.warn({ err: err.message }, `${what} cut off by the stop (what it left undone is redelivered)`);
        return;
      }
      log.error({ err: err.message, stack: err.stack }, `${what} failed`);
      void Promise.resolve()
        .then(report)
        .catch(() => undefined)
        .finally(() => void ctx.shutdown(`${what} failed`).then(() => process.exit(1)));
    },
    shutdown(reason) {
      stopping = true;
      shuttingDown ??= (async () => {
        log.info({ reason }, "shutting down");
        for (const d of disposers.reverse()) {
          try {
            await d();
          } catch (err) {
            log.warn({ err: (err as Error).message }, "disposer failed during shutdown");
          }
        }
        // Drain lets the server confirm what this process sent last; a server that does not answer (a network
        // cut, a frozen nats-server) would hold the exit forever, so past NATS_DRAIN_MS the connection is
        // closed instead. What it sent without an answer is unconfirmed either way, as after a crash.
        const drained = await settledWithin(nc.drain(), NATS_DRAIN_MS);
        if (!drained) log.warn({ waitedMs: NATS_DRAIN_MS }, "NATS did not confirm the drain: closing the connection");
        if (!nc.isClosed()) await nc.close().catch(() => undefined);
      })();
      return shuttingDown;
    },
  };
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      void ctx.shutdown(sig).then(() => process.exit(0));
    });
  }
  return ctx;
}
