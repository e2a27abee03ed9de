// A typed handle to a named actor or an actor kind: finds replicas in the registry's shared live view (no
// listing per call; exact name or exact kind, within the run) and load-balances
// calls across them round-robin; a replica that fails with UNAVAILABLE is skipped and the call retried on
// the next (Ray's handle semantics, minus the object store).
import * as grpc from "@grpc/grpc-js";
import { connectClient, type CallOpts, type ClientOptions, type TypedClient, type UnaryCalls } from "./grpc-client.js";
import { ActorNotFoundError } from "./errors.js";
import { resolveIn, type ActorRegistry } from "./registry.js";
import { kindOfService } from "./identity.js";

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
  // With identities on, a learner service's handle only ever calls learner-kind actors (whatever names
  // other kinds register), and only servers that prove the learner identity.
  const kind = opts.identity ? kindOfService(definition) : undefined;

  // The server must hold its kind's identity (checked in the handshake when this process has one).
  const clientFor = (address: string, actorKind: string) => {
    const key = `${actorKind}@${address}`;
    let c = clients.get(key);
    if (!c) {
      c = connectClient(definition, address, { ...opts, expectIdentity: opts.identity ? (kind ?? actorKind) : opts.expectIdentity });
      clients.set(key, c);
    }
    return c;
  };

  const call = new Proxy({} as UnaryCalls<D>, {
    get(_t, method: string | symbol) {
      if (typeof method !== "string") return undefined;
      return async (request: unknown, callOpts?: CallOpts) => {
        const view = await registry.view();
        const replicas = resolveIn(view, group, undefined, kind);
        if (replicas.length === 0) {
          const known = view.actors().map((e) => `${e.record.name} (${e.record.kind}, ${view.isLive(e) ? "live" : "silent"})`);
          throw new ActorNotFoundError(`no running actor '${group}' in run '${registry.runId}'; registered: ${known.join(", ") || "none"}`);
        }
        let lastErr: unknown;
        for (let i = 0; i < replicas.length; i++) {
          const target = replicas[next++ % replicas.length];
          try {
            return await (clientFor(target.grpcAddress, target.kind).call as any)[method](request, callOpts);
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
