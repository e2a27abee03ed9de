// Serving one actor: its gRPC server (with health + reflection), its registry entry and heartbeat.
// `serveActor` is what an actor process's main calls; disposal deregisters and stops in reverse order.
// The heartbeat is a compare-and-set on the actor's own last revision: when some other writer took the
// name (a reconciler re-placed it elsewhere while this host was cut off), this copy stands down.
import { hostname } from "node:os";
import type { NatsConnection } from "@lspo/bus";
import { ComponentState, type ActorRecord, type Resources } from "@lspo/proto";
import { startGrpcServer, type GrpcServerOptions, type RunningServer, type ServiceBinding } from "./grpc-server.js";
import { ActorRegistry, HEARTBEAT_MS, RECORD_TTL_MS } from "./registry.js";
import { agentPidFromEnv, terminateSelf, watchParent } from "./parent-watch.js";

export interface ActorOptions extends GrpcServerOptions {
  name: string;
  kind: string;
  /** The run (registry scope); default LSPO_RUN_ID, which the node agent sets. */
  runId?: string;
  /** Registry bucket replicas (config.nats.replicas). */
  replicas?: number;
  node?: string;
  resources?: Partial<Resources>;
  /** Restarts so far (the node agent passes LSPO_ACTOR_RESTARTS). */
  restarts?: number;
}

export interface ServedActor extends AsyncDisposable {
  readonly name: string;
  readonly server: RunningServer;
  readonly registry: ActorRegistry;
  setState(state: ComponentState): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The share an agent gave this process (LSPO_THREADS, CUDA_VISIBLE_DEVICES), as its registry record states
 * it: where each actor runs and on which GPU is then read from the registry, not assumed.
 */
function shareFromEnv(env: NodeJS.ProcessEnv = process.env): Resources {
  const gpuIds = (env.CUDA_VISIBLE_DEVICES ?? "").split(",").map((s) => s.trim()).filter((s) => /^\d+$/.test(s)).map(Number);
  return { cpus: Number(env.LSPO_THREADS ?? 0) || 0, gpuIds, gpus: gpuIds.length, memoryBytes: 0n };
}

export async function serveActor(nc: NatsConnection, bindings: ServiceBinding[], opts: ActorOptions): Promise<ServedActor> {
  const runId = opts.runId ?? process.env.LSPO_RUN_ID;
  if (!runId) throw new Error(`serveActor ${opts.name}: no run id (pass runId, or set LSPO_RUN_ID)`);
  const registry = await ActorRegistry.open(nc, { runId, replicas: opts.replicas });
  const server = await startGrpcServer(bindings, opts);
  let state = ComponentState.COMPONENT_STATE_RUNNING;
  const record = (): ActorRecord => ({
    name: opts.name,
    kind: opts.kind,
    node: opts.node ?? process.env.LSPO_NODE_NAME ?? hostname(),
    pid: process.pid,
    grpcAddress: server.address,
    state,
    restarts: opts.restarts ?? Number(process.env.LSPO_ACTOR_RESTARTS ?? 0),
    resources: { ...shareFromEnv(), ...opts.resources },
    runId,
  });
  const agentPid = agentPidFromEnv();
  // Ours only: a process this actor starts must not mistake our agent for its own parent.
  delete process.env.LSPO_AGENT_PID;
  if (agentPid !== undefined) {
    // Started by an agent: the name must still be our agent's claim. Held by another node, it was handed
    // on (this agent was cut off and its actors re-placed): registering would steal it back.
    const held = await registry.getActor(opts.kind, opts.name);
    if (held && held.record.node !== record().node) {
      await server.stop();
      throw new Error(`actor ${opts.name}: the name is held by node ${held.record.node} in run '${runId}'; not registering here`);
    }
  }
  let revision = await registry.putActor(record());
  let lastWrite = Date.now();
  let superseded = false;
  const heartbeat = async () => {
    const next = await registry.updateActor(record(), revision);
    if (next !== null) {
      revision = next;
      lastWrite = Date.now();
      return;
    }
    const now = await registry.getActor(opts.kind, opts.name);
    if (now && now.record.pid === process.pid && now.record.node === record().node) {
      revision = now.revision; // our own write whose answer was lost
      return;
    }
    // Gone while we kept writing: expired (NATS away longer than the TTL): take it back. Gone while we
    // were recently alive, or someone else's: the name was handed on; this copy stands down.
    if (!now && Date.now() - lastWrite > RECORD_TTL_MS) {
      const claimed = await registry.claimActor(record());
      if (claimed !== null) {
        revision = claimed;
        lastWrite = Date.now();
        return;
      }
    }
    if (stopping || superseded) return;
    superseded = true;
    process.stderr.write(`[actor ${opts.name}] registry record taken over (${now ? `by pid ${now.record.pid} on ${now.record.node}` : "deleted"}): standing down\n`);
    terminateSelf();
  };
  let stopping = false;
  const beat = setInterval(() => {
    heartbeat().catch(() => {
      // NATS briefly away (restart): the next beat re-registers.
    });
  }, HEARTBEAT_MS);
  beat.unref();
  const unwatch = watchParent(agentPid, () => terminateSelf());

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(beat);
    unwatch();
    state = ComponentState.COMPONENT_STATE_STOPPED;
    if (!superseded) await registry.updateActor(record(), revision).catch(() => undefined);
    await server.stop();
  };
  return {
    name: opts.name,
    server,
    registry,
    async setState(s) {
      state = s;
      await heartbeat();
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
