// One actor kind in one file, as Ray's `@ray.remote`: `defineActor({ kind, service, handlers, resources })`
// declares what the kind serves and needs, once. The result serves it (`serve`), places it on node agents
// (`place`) and calls it (`handle`). Kinds are registered once: a duplicate is refused and a failed
// lookup lists the valid kinds.
import type * as grpc from "@grpc/grpc-js";
import type { NatsConnection } from "@lspo/bus";
import type { ActorRecord } from "@lspo/proto";
import { serveActor, type ActorOptions, type ServedActor } from "./actor.js";
import type { ClientOptions } from "./grpc-client.js";
import { unary } from "./grpc-server.js";
import { actorHandle, type ActorHandle } from "./handle.js";
import { placeActors, type PlacementRequest } from "./placement.js";
import type { ActorRegistry } from "./registry.js";
import { checkActorName } from "./registry-keys.js";

type MethodDef = { path: string; requestSerialize: (v: any) => Buffer; responseDeserialize: (b: Buffer) => any; requestStream: boolean; responseStream: boolean };
type ServiceDef = Record<string, MethodDef>;

/** One async function per method of the service: request in, response out (throw GrpcStatusError for a status). */
export type Handlers<D extends ServiceDef> = {
  [K in keyof D]: (request: Parameters<D[K]["requestSerialize"]>[0], call: grpc.ServerUnaryCall<unknown, unknown>) => Promise<ReturnType<D[K]["responseDeserialize"]>>;
};

export interface ActorSpec<D extends ServiceDef> {
  /** The kind: placement and handles find actors by it ([A-Za-z0-9_-]). */
  kind: string;
  /** The generated gRPC service definition (e.g. VerifierServiceService from @lspo/proto). */
  service: D;
  handlers: Handlers<D>;
  /** What one actor needs of a node; default { cpus: 1, gpus: 0 }. */
  resources?: { cpus?: number; gpus?: 0 | 1 };
  /** Methods that change state: they need the control token when one is configured. */
  protectedMethods?: Array<keyof D & string>;
}

export interface DefinedActor<D extends ServiceDef> {
  readonly kind: string;
  readonly service: D;
  /** Fully-qualified service name, from the definition's paths (`lspo.v1.VerifierService`). */
  readonly serviceName: string;
  readonly resources: { cpus: number; gpus: 0 | 1 };
  /** Serves one actor of this kind in this process and registers it (what an actor's main calls). */
  serve(nc: NatsConnection, opts: Omit<ActorOptions, "kind">): Promise<ServedActor>;
  /** Asks node agents for `count` actors of this kind, with its resources. */
  place(registry: ActorRegistry, count: number, more?: Partial<PlacementRequest>, client?: ClientOptions): Promise<ActorRecord[]>;
  /** A typed handle: every actor of the kind (load-balanced), or one by name. */
  handle(registry: ActorRegistry, nameOrKind?: string, client?: ClientOptions): ActorHandle<D>;
}

const DEFINED = new Map<string, DefinedActor<any>>();

export function defineActor<D extends ServiceDef>(spec: ActorSpec<D>): DefinedActor<D> {
  const kind = checkActorName(spec.kind, "defineActor: kind");
  if (DEFINED.has(kind)) throw new Error(`defineActor: kind '${kind}' is already defined; defined: ${[...DEFINED.keys()].join(", ")}`);
  const methods = Object.keys(spec.service);
  if (methods.length === 0) throw new Error(`defineActor ${kind}: service has no methods (pass a generated service definition, e.g. VerifierServiceService)`);
  const missing = methods.filter((m) => typeof (spec.handlers as Record<string, unknown>)[m] !== "function");
  if (missing.length) throw new Error(`defineActor ${kind}: handlers missing for ${missing.join(", ")}; the service has ${methods.join(", ")}`);
  const extra = Object.keys(spec.handlers).filter((m) => !methods.includes(m));
  if (extra.length) throw new Error(`defineActor ${kind}: handlers for unknown methods ${extra.join(", ")}; the service has ${methods.join(", ")}`);
  const serviceName = spec.service[methods[0]].path.split("/")[1];
  const resources = { cpus: spec.resources?.cpus ?? 1, gpus: spec.resources?.gpus ?? 0 } as const;

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const m of methods) implementation[m] = unary((req, call) => (spec.handlers as Record<string, Handlers<D>[string]>)[m](req, call as grpc.ServerUnaryCall<unknown, unknown>));

  const defined: DefinedActor<D> = {
    kind,
    service: spec.service,
    serviceName,
    resources,
    serve: (nc, opts) =>
      serveActor(nc, [{ name: serviceName, definition: spec.service as unknown as grpc.ServiceDefinition, implementation, protectedMethods: spec.protectedMethods }], {
        ...opts,
        kind,
        resources: { cpus: resources.cpus, gpus: resources.gpus, ...opts.resources },
      }),
    place: (registry, count, more = {}, client = {}) => placeActors(registry, { kind, count, cpus: resources.cpus, gpus: resources.gpus, ...more }, client),
    handle: (registry, nameOrKind = kind, client = {}) => actorHandle(registry, spec.service, nameOrKind, client),
  };
  DEFINED.set(kind, defined);
  return defined;
}

/** The defined actor of a kind; an unknown kind's error lists the defined ones. */
export function definedActor(kind: string): DefinedActor<ServiceDef> {
  const d = DEFINED.get(kind);
  if (!d) throw new Error(`no actor kind '${kind}' is defined; defined: ${[...DEFINED.keys()].join(", ") || "none"}`);
  return d;
}

/** Every defined kind (for a node agent's `kinds`). */
export function definedKinds(): string[] {
  return [...DEFINED.keys()];
}
