// Where the run's actors live, for the controller: "local" (an in-process node agent on this machine:
// single-host `lspo train`, tests, demo) or "remote" (`lspo agent` processes on other hosts, registered
// under run.name; the controller waits for agents matching every kind's selector, places each kind there
// and runs the reconciler). In both modes what the controller knows about actors (FAILED, restarts,
// the summary's list) comes from the run's registry view, so a remote actor's failure is seen too.
import { availableParallelism } from "node:os";
import { join } from "node:path";
import {
  ActorRegistry, NodeAgent, Reconciler, busOptionsFor, fenceAgents, registryIdentityOf, matchesSelector, placeActors, stopActors,
  type ClientOptions, type DesiredActor, type GrpcServerOptions, type ReconcileEvent, type RegistryView,
} from "@lspo/actors";
import type { NatsConnection } from "@lspo/bus";
import type { RunConfig } from "@lspo/config";
import { ComponentState, type ActorRecord } from "@lspo/proto";
import { ACTOR_KINDS, selfLauncher } from "../launcher.js";

type Kind = (typeof ACTOR_KINDS)[number];

export interface Cluster {
  readonly registry: ActorRegistry;
  /** The in-process agent (local mode); null in remote mode. */
  readonly agent: NodeAgent | null;
  /** Starts `count` actors of a kind with its configured selector (remote: kept placed by the reconciler). */
  place(kind: Kind, count: number, maxRestarts: number): Promise<ActorRecord[]>;
  /**
   * Remote mode: the rollout slots of the live agents the rollout selector matches (GPUs x actorsPerGpu, or
   * actorsPerGpu on a node without GPUs), what `rollout.actors: 0` places; 0 in local mode.
   */
  rolloutSlots(): Promise<number>;
  /** A FAILED actor of the run, on any agent. */
  failed(): ActorRecord | undefined;
  /** Every actor the run has had: the latest record of each name (a deleted one as STOPPED). */
  actors(): ActorRecord[];
  /** Stops every actor of a kind on whichever agent runs it (wind-down); the reconciler lets them go. Returns
   *  those whose (live) agent did not answer. */
  stopKind(kind: Kind): Promise<Array<{ actor: string; node: string; error: string }>>;
  /**
   * Remote mode: stops the actors of these kinds that this controller did not place, before it places any: a
   * previous controller of the run that died (its pod lost with its node) leaves its actors running on the
   * agents, and a second learner or sampler beside the new ones would share their consumers. Local mode has
   * none: a controller's actors exit with its in-process agent.
   */
  stopLeftovers(kinds: readonly Kind[]): Promise<{ stopped: ActorRecord[]; unreachable: Array<{ actor: string; kind: string; node: string; error: string }> }>;
  /**
   * Remote mode: fences every live agent at this controller's lease take (security.client.fencingToken;
   * libs/actors fence.ts), before it stops or places anything: a call an earlier controller of the run still
   * had on its way is refused from then on. Local mode has nothing to fence: its agent is this process's own.
   */
  fenceAgents(): Promise<{ fenced: string[]; unreachable: Array<{ node: string; error: string }> }>;
  close(): Promise<void>;
}

export interface ClusterDeps {
  nc: NatsConnection;
  config: RunConfig;
  dir: string;
  /** The run config handed to each actor: read at placement (rollout.actors may be resolved just before). */
  configJson: () => string;
  security: { server: GrpcServerOptions; client: ClientOptions };
  onEvent: (e: ReconcileEvent) => void;
  /** Whether the controller may act on the run now (its lease is fresh); the reconciler skips its passes while not. */
  mayAct?: () => boolean;
}

/** Remembers each actor's latest record, so actors stopped on purpose still count in the summary. Keyed by
 *  kind and name: the registry keeps actors of different kinds apart even when they share a name. */
function trackActors(view: RegistryView): { all(): ActorRecord[]; stop(): void } {
  const seen = new Map<string, ActorRecord>();
  const sync = () => {
    const live = new Set<string>();
    for (const e of view.actors()) {
      const id = `${e.record.kind}/${e.record.name}`;
      live.add(id);
      seen.set(id, e.record);
    }
    for (const [id, rec] of seen) if (!live.has(id)) seen.set(id, { ...rec, state: ComponentState.COMPONENT_STATE_STOPPED });
  };
  sync();
  const off = view.onChange(sync);
  return { all: () => [...seen.values()], stop: off };
}

/**
 * The CPUs an actor is placed with, which its agent hands it as LSPO_THREADS (its onnxruntime threads, read in
 * place of model.threads): model.threads for the kinds that run the model on the CPU (learner, and rollout
 * actors off GPU nodes), 1 for the rest; none for an actor with a GPU slot.
 */
export function actorCpus(kind: string, gpus: 0 | 1, config: Pick<RunConfig, "model">): number {
  if (gpus) return 0;
  return kind === "rollout" || kind === "learner" ? config.model.threads : 1;
}

export async function startCluster(d: ClusterDeps): Promise<Cluster> {
  const { nc, config } = d;
  const runId = config.run.name;
  const remote = config.cluster.agents === "remote";
  let agent: NodeAgent | null = null;
  let registry: ActorRegistry;
  if (remote) {
    registry = await ActorRegistry.open(nc, { runId, replicas: config.nats.replicas });
    await waitForAgents(registry, config);
  } else {
    // One machine: the agent and its actors listen on loopback only, as the embedded NATS does (nothing of
    // a single-host run is exposed on the network), unless LSPO_GRPC_HOST / LSPO_ADVERTISE_HOST say otherwise.
    const bindHost = process.env.LSPO_GRPC_HOST ?? "127.0.0.1";
    const advertiseHost = process.env.LSPO_ADVERTISE_HOST ?? (bindHost === "0.0.0.0" ? "127.0.0.1" : bindHost);
    agent = await NodeAgent.start(nc, {
      identity: registryIdentityOf(busOptionsFor(config, "controller"), d.security),
      runId,
      replicas: config.nats.replicas,
      node: process.env.LSPO_NODE_NAME ?? "local",
      // Oversubscribed on purpose (actors mostly wait on each other): room for as many model actors at
      // model.threads CPUs each as at one.
      cpus: availableParallelism() * 4 * config.model.threads,
      launcher: (spec) => {
        const l = selfLauncher(spec);
        return { ...l, env: { ...l.env, LSPO_GRPC_HOST: bindHost, LSPO_ADVERTISE_HOST: advertiseHost } };
      },
      kinds: ACTOR_KINDS,
      logDir: join(d.dir, "logs"),
      backoffMs: 500,
      ...d.security.server,
      host: bindHost,
      advertiseHost,
    });
    registry = agent.registry;
  }
  const view = await registry.view();
  const tracked = trackActors(view);
  // The actors this run is about: those it placed, and of kinds it does not place (verifiers that are their
  // own workload), whoever registered them. Another record of a placed kind (an identity may register its
  // kind's names under its own keys) neither fails the run nor counts in its summary.
  const placedKinds = new Set<string>();
  const ours = new Set<string>();
  const counts = (a: ActorRecord) => !placedKinds.has(a.kind) || ours.has(`${a.kind}/${a.name}`);
  const reconciler = remote
    ? await Reconciler.start(registry, { desired: [], nodeDeadAfterMs: config.cluster.nodeDeadAfterS * 1000, client: d.security.client, onEvent: d.onEvent, mayAct: d.mayAct })
    : null;

  return {
    registry,
    agent,
    async place(kind, count, maxRestarts) {
      const nodeSelector = config.cluster.placement[kind].nodeSelector;
      // Rollout actors are spread over the nodes (one host lost costs the fewest of them); the others pack.
      const strategy = kind === "rollout" ? ("spread" as const) : ("pack" as const);
      // On GPU nodes a rollout actor takes a GPU slot (its CUDA_VISIBLE_DEVICES; actorsPerGpu share one GPU).
      const gpus = kind === "rollout" && remote && (await rolloutNodes(registry, config)).some((n) => (n.capacity?.gpus ?? 0) > 0) ? (1 as const) : (0 as const);
      const spec = { kind, cpus: actorCpus(kind, gpus, config), gpus, configJson: d.configJson(), maxRestarts, nodeSelector, strategy };
      placedKinds.add(kind);
      const placed = await placeActors(registry, { ...spec, count }, d.security.client);
      for (const a of placed) {
        ours.add(`${a.kind}/${a.name}`);
        reconciler?.want({ ...spec, name: a.name } satisfies DesiredActor);
      }
      return placed;
    },
    async rolloutSlots() {
      if (!remote) return 0;
      return (await rolloutNodes(registry, config)).reduce((n, node) => n + ((node.capacity?.gpus ?? 0) > 0 ? node.capacity!.gpus : Math.max(1, node.actorsPerGpu)), 0);
    },
    failed: () => view.actors().find((e) => counts(e.record) && e.record.state === ComponentState.COMPONENT_STATE_FAILED)?.record,
    actors: () => tracked.all().filter(counts),
    async fenceAgents() {
      if (!remote) return { fenced: [], unreachable: [] };
      return fenceAgents(registry, d.security.client);
    },
    async stopLeftovers(kinds) {
      if (!remote) return { stopped: [], unreachable: [] };
      return stopActors(registry, (a) => kinds.includes(a.kind as Kind) && !ours.has(`${a.kind}/${a.name}`), d.security.client);
    },
    async stopKind(kind) {
      for (const e of view.actors()) if (e.record.kind === kind) reconciler?.release(e.record.name);
      return (await stopActors(registry, (a) => a.kind === kind, d.security.client)).unreachable;
    },
    async close() {
      reconciler?.stop();
      tracked.stop();
      if (agent) await agent.stop();
      else registry.close();
    },
  };
}

/** The live agents the rollout selector matches. */
async function rolloutNodes(registry: ActorRegistry, config: RunConfig) {
  return (await registry.liveNodes()).map((e) => e.record).filter((n) => matchesSelector(n.labels, config.cluster.placement.rollout.nodeSelector));
}

/** Remote mode: waits until live agents of the run satisfy every kind's selector, or says which is missing. */
async function waitForAgents(registry: ActorRegistry, config: RunConfig): Promise<void> {
  const end = Date.now() + config.cluster.agentWaitS * 1000;
  let lastSaid = 0;
  // The live agents and since when they have been these: placement waits for them to settle.
  let seen = "";
  let since = Date.now();
  for (;;) {
    const nodes = (await registry.liveNodes()).map((e) => e.record);
    // Verifiers run as their own workload when the controller places none (verifier.actors 0).
    const placed = ACTOR_KINDS.filter((k) => k !== "verifier" || config.verifier.actors > 0);
    const missing = placed.filter((k) => !nodes.some((n) => matchesSelector(n.labels, config.cluster.placement[k].nodeSelector)));
    const names = nodes.map((n) => n.node).sort().join(",");
    if (names !== seen) [seen, since] = [names, Date.now()];
    // Settled, or still changing when agentWaitS is over: place on what is there.
    if (nodes.length > 0 && missing.length === 0 && (Date.now() - since >= config.cluster.agentSettleS * 1000 || Date.now() > end)) return;
    // Say what is awaited, every 15 s: a silent controller waiting for an agent that never comes looks hung.
    if (missing.length > 0 && Date.now() - lastSaid > 15_000) {
      lastSaid = Date.now();
      process.stderr.write(`[controller] waiting for agents of run '${config.run.name}' matching ${missing.map((k) => `${k} ${JSON.stringify(config.cluster.placement[k].nodeSelector)}`).join(", ")}; live: ${nodes.map((n) => n.node).join(", ") || "none"}\n`);
    }
    if (Date.now() > end && missing.length > 0) {
      const have = nodes.map((n) => `${n.node} {${Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(",")}}`).join("; ") || "none";
      const want = missing.map((k) => `${k}: ${JSON.stringify(config.cluster.placement[k].nodeSelector)}`).join("; ");
      throw new Error(
        `cluster.agents is "remote" but after ${config.cluster.agentWaitS} s (cluster.agentWaitS) no live agent of run '${config.run.name}' matches ${want}; agents: ${have}. Start \`lspo agent --run ${config.run.name}\` with LSPO_NODE_LABELS on the hosts`,
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
