// Typed promise clients straight from a generated service definition: `client.call.generate(req)`.
// No generated client class is needed; the definition carries paths and codecs.
import { readFileSync } from "node:fs";
import { checkServerIdentity as checkServerName, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { FencingToken } from "@lspo/proto";
import { identityOfPeer } from "./identity.js";
import { ActorCallError } from "./errors.js";

type AnyDef = Record<string, { path: string; requestSerialize: (v: any) => Buffer; responseDeserialize: (b: Buffer) => any; requestStream: boolean; responseStream: boolean }>;

/** `{ method(req, opts?) => Promise<res> }` for every unary method of a service definition. */
export type UnaryCalls<D extends AnyDef> = {
  [K in keyof D]: (request: Parameters<D[K]["requestSerialize"]>[0], opts?: CallOpts) => Promise<ReturnType<D[K]["responseDeserialize"]>>;
};

export interface CallOpts {
  deadlineMs?: number;
  metadata?: Record<string, string>;
}

export interface ClientOptions {
  /** CA (PEM path) to verify the server; enables TLS. */
  tlsCa?: string;
  /** Client certificate and key for mutual TLS. */
  tlsCert?: string;
  tlsKey?: string;
  /**
   * The name the server's certificate is checked against. Peers are dialled by the address they registered
   * (a pod IP), which no certificate names, so every TLS channel verifies this fixed deployment name
   * instead (default "lspo"; deploy/make-secrets.sh puts DNS:lspo in the gRPC certificate).
   */
  tlsServerName?: string;
  /** Sent as `authorization: Bearer <token>` on every call (control calls need it when security is on). */
  token?: string;
  /**
   * This process's identity (the `spiffe://lspo/<identity>` in its own certificate, identity.ts). When set,
   * every channel must name `expectIdentity`, and the handshake fails unless the server's certificate
   * names exactly that identity: nothing, the token included, is sent to a server that is not who the
   * registry says it is.
   */
  identity?: string;
  /** The identity the server must hold (the kind of the actor called, the identity of the agent). */
  expectIdentity?: string;
  deadlineMs?: number;
  /** The calling controller's fencing token (fence.ts): sent in every StartActors and StopActor to an agent. */
  fencingToken?: FencingToken;
}

export interface TypedClient<D extends AnyDef> {
  readonly address: string;
  readonly call: UnaryCalls<D>;
  close(): void;
}

/** The name every lspo gRPC certificate carries (see ClientOptions.tlsServerName). */
export const DEFAULT_TLS_SERVER_NAME = "lspo";

export function credentialsFor(opts: ClientOptions): grpc.ChannelCredentials {
  if (!opts.tlsCa && !opts.tlsCert) return grpc.credentials.createInsecure();
  const expected = opts.expectIdentity;
  return grpc.credentials.createSsl(
    opts.tlsCa ? readFileSync(opts.tlsCa) : null,
    opts.tlsKey ? readFileSync(opts.tlsKey) : null,
    opts.tlsCert ? readFileSync(opts.tlsCert) : null,
    expected
      ? {
          checkServerIdentity: (host: string, cert: PeerCertificate) => {
            const byName = checkServerName(host, cert);
            if (byName) return byName;
            let held: string | null;
            try {
              held = identityOfPeer(cert);
            } catch (err) {
              return err as Error;
            }
            if (held !== expected) return new Error(`the server holds ${held ? `identity '${held}'` : "no lspo identity"}, not '${expected}': refusing to talk to it`);
            return undefined;
          },
        }
      : {},
  );
}

export function connectClient<D extends AnyDef>(definition: D, address: string, opts: ClientOptions = {}): TypedClient<D> {
  const tls = Boolean(opts.tlsCa || opts.tlsCert);
  if (opts.identity && !opts.expectIdentity) {
    throw new ActorCallError(`connectClient(${address}): this process holds identity '${opts.identity}', so the server's identity must be named (expectIdentity) before anything is sent to it`);
  }
  const serverName = opts.tlsServerName || DEFAULT_TLS_SERVER_NAME;
  const client = new grpc.Client(address, credentialsFor(opts), {
    "grpc.max_receive_message_length": 256 * 1024 * 1024,
    "grpc.max_send_message_length": 256 * 1024 * 1024,
    ...(tls ? { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName } : {}),
  });
  const call = new Proxy({} as UnaryCalls<D>, {
    get(_t, method: string | symbol) {
      if (typeof method !== "string") return undefined;
      const m = definition[method];
      if (!m) {
        throw new ActorCallError(`no method '${method}'; this service has: ${Object.keys(definition).map((k) => `call.${k}(request)`).join(", ")}`);
      }
      if (m.requestStream || m.responseStream) throw new ActorCallError(`'${method}' is a streaming method; call.${method} covers unary methods only`);
      return (request: unknown, callOpts: CallOpts = {}) =>
        new Promise((resolve, reject) => {
          const md = new grpc.Metadata();
          if (opts.token) md.set("authorization", `Bearer ${opts.token}`);
          for (const [k, v] of Object.entries(callOpts.metadata ?? {})) md.set(k, v);
          const deadlineMs = callOpts.deadlineMs ?? opts.deadlineMs ?? 60_000;
          client.makeUnaryRequest(
            m.path,
            m.requestSerialize,
            m.responseDeserialize,
            request,
            md,
            { deadline: Date.now() + deadlineMs },
            (err, res) => (err ? reject(err) : resolve(res)),
          );
        });
    },
  });
  return { address, call, close: () => client.close() };
}
