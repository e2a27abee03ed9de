// A typed handle to a named actor or an actor kind: finds replicas in the registry's shared live view (no
// listing per call; exact name or exact kind, within the run) and load-balances
// calls across them round-robin; a replica that fails with UNAVAILABLE is skipped and the call retried on
// the next (Ray's handle semantics, minus the object store).
import * as grpc from "@grpc/grpc-js";
import { connectClient, type CallOpts, type ClientOptions, type TypedClient, type UnaryCalls } from "./grpc-client.js";
import { ActorNotFoundError } from "./errors.js";
import { resolveIn, type ActorRegistry } from "./registry.js";

export interface ActorHandle<D extends Record<string, any>> {
  readonly group: string;
  readonly call: UnaryCalls<D>;
  /** The same handle with other call options (token, TLS, deadline). */
  with(opts: ClientOptions): ActorHandle<D>;
  close(): void;
}

export function actorHandle<D extends Record<string, any>>(
  registry: ActorRegistry,
  definition: D,
  group: string,
  opts: ClientOptions = {},
): ActorHandle<D> {
  const clients = new Map<string, TypedClient<D>>();
  let next = 0;

  const clientFor = (address: string) => {
    let c = clients.get(address);
    if (!c) {
      c = connectClient(definition, address, opts);
      clients.set(address, c);
    }
    return c;
  };

  const call = new Proxy({} as UnaryCalls<D>, {
    get(_t, method: string | symbol) {
      if (typeof method !== "string") return undefined;
      return async (request: unknown, callOpts?: CallOpts) => {
        const view = await registry.view();
        const replicas = resolveIn(view, group);
        if (replicas.length === 0) {
          const known = view.actors().map((e) => `${e.record.name} (${e.record.kind}, ${view.isLive(e) ? "live" : "silent"})`);
          throw new ActorNotFoundError(`no running actor '${group}' in run '${registry.runId}'; registered: ${known.join(", ") || "none"}`);
        }
        let lastErr: unknown;
        for (let i = 0; i < replicas.length; i++) {
          const target = replicas[next++ % replicas.length];
          try {
            return await (clientFor(target.grpcAddress).call as any)[method](request, callOpts);
          } catch (err) {
            lastErr = err;
            if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE) throw err;
          }
        }
        throw lastErr;
      };
    },
  });

  return {
    group,
    call,
    with: (more) => actorHandle(registry, definition, group, { ...opts, ...more }),
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}
