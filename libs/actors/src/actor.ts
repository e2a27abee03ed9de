// Serving one actor: its gRPC server (with health + reflection), its registry entry and heartbeat.
// `serveActor` is what an actor process's main calls; disposal deregisters and stops in reverse order.
import { hostname } from "node:os";
import type { NatsConnection } from "@lspo/bus";
import { ComponentState, type Resources } from "@lspo/proto";
import { startGrpcServer, type GrpcServerOptions, type RunningServer, type ServiceBinding } from "./grpc-server.js";
import { ActorRegistry, HEARTBEAT_MS } from "./registry.js";

export interface ActorOptions extends GrpcServerOptions {
  name: string;
  kind: string;
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

export async function serveActor(nc: NatsConnection, bindings: ServiceBinding[], opts: ActorOptions): Promise<ServedActor> {
  const registry = await ActorRegistry.open(nc);
  const server = await startGrpcServer(bindings, opts);
  let state = ComponentState.COMPONENT_STATE_RUNNING;
  const record = () => ({
    name: opts.name,
    kind: opts.kind,
    node: opts.node ?? process.env.LSPO_NODE_NAME ?? hostname(),
    pid: process.pid,
    grpcAddress: server.address,
    state,
    restarts: opts.restarts ?? Number(process.env.LSPO_ACTOR_RESTARTS ?? 0),
    resources: { cpus: 0, gpuIds: [], gpus: 0, memoryBytes: 0n, ...opts.resources },
  });
  await registry.putActor(record());
  const beat = setInterval(() => {
    registry.putActor(record()).catch(() => {
      // NATS briefly away (restart): the next beat re-registers.
    });
  }, HEARTBEAT_MS);
  beat.unref();

  const stop = async () => {
    clearInterval(beat);
    state = ComponentState.COMPONENT_STATE_STOPPED;
    await registry.putActor(record()).catch(() => undefined);
    await server.stop();
  };
  return {
    name: opts.name,
    server,
    registry,
    async setState(s) {
      state = s;
      await registry.putActor(record());
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
