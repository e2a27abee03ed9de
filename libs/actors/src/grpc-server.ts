// Serving actors over gRPC: every server carries the standard health service (grpc.health.v1, what
// Kubernetes' grpc probes call) and server reflection, optional TLS / mutual TLS, and a bearer token that
// guards the methods that change state.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { advertisedHost } from "./advertise.js";
import { groupOfMethod, identitiesFor, identityOfPeer, tokenMatches } from "./identity.js";

export interface ServiceBinding {
  /** Fully-qualified service name, e.g. `lspo.v1.RolloutService` (for health status). */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Method keys (as in the definition) that need the control token when one is configured. */
  protectedMethods?: string[];
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA to verify client certificates: enables mutual TLS. */
  ca?: string;
}

export interface GrpcServerOptions {
  /** The host to bind: every interface (0.0.0.0) by default, so other machines can reach the server. */
  host?: string;
  /** The host put in the registry (others dial it); default: LSPO_ADVERTISE_HOST, else see advertise.ts. */
  advertiseHost?: string;
  /** 0 = any free port. */
  port?: number;
  tls?: TlsFiles;
  /** Bearer token required on protected methods (`authorization: Bearer <token>` metadata). */
  controlToken?: string;
  /**
   * Per-identity authorisation (identity.ts): identity -> SHA-256 of its token. When set, every method is
   * checked against METHOD_GROUPS by the caller's client-certificate identity, and the token must be that
   * identity's own; `controlToken` is then not used. Needs mutual TLS.
   */
  tokenDigests?: ReadonlyMap<string, Buffer>;
}

export interface RunningServer extends AsyncDisposable {
  readonly address: string;
  readonly port: number;
  readonly health: HealthImplementation;
  stop(graceMs?: number): Promise<void>;
}

const PROTO_ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "../../../proto");

function reflectionFor(names: string[]): ReflectionService | null {
  try {
    const dir = join(PROTO_ROOT, "lspo/v1");
    const files = readdirSync(dir).filter((f) => f.endsWith(".proto")).map((f) => `lspo/v1/${f}`);
    const pkg = protoLoader.loadSync(files, { includeDirs: [PROTO_ROOT], keepCase: true });
    return new ReflectionService(pkg, { services: names });
  } catch {
    // Reflection is a debugging aid; a deployment without the .proto files still serves.
    return null;
  }
}

/**
 * Wraps every unary handler with the per-identity check: the caller's certificate names an identity the
 * method's group allows, and (for any group but reads) its bearer token is that identity's own.
 */
function guardByIdentity(binding: ServiceBinding, digests: ReadonlyMap<string, Buffer>): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = { ...binding.implementation };
  for (const [method, def] of Object.entries(binding.definition)) {
    const inner = binding.implementation[method] as grpc.handleUnaryCall<unknown, unknown> | undefined;
    if (!inner) continue;
    const group = groupOfMethod(def.path);
    // A method the service protects but the table calls a read would silently open up: refuse to serve.
    if (binding.protectedMethods?.includes(method) && group === "read") {
      throw new Error(`${binding.name}/${method} is protected but in no method group of identity.ts METHOD_GROUPS`);
    }
    const allowed = identitiesFor(def.path);
    impl[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      let caller: string | null;
      try {
        caller = identityOfPeer(call.getAuthContext().sslPeerCertificate);
      } catch (err) {
        cb({ code: grpc.status.PERMISSION_DENIED, details: `${def.path}: ${(err as Error).message}` });
        return;
      }
      if (!caller || !allowed.includes(caller)) {
        cb({ code: grpc.status.PERMISSION_DENIED, details: `${def.path} (${group}) is for ${allowed.join(", ")}; the caller's certificate names ${caller ? `identity '${caller}'` : "no lspo identity"}` });
        return;
      }
      if (group !== "read") {
        const got = String(call.metadata.get("authorization")[0] ?? "");
        if (!got.startsWith("Bearer ") || !tokenMatches(digests, caller, got.slice("Bearer ".length))) {
          cb({ code: grpc.status.UNAUTHENTICATED, details: `${def.path} (${group}) needs the bearer token of identity '${caller}'` });
          return;
        }
      }
      inner(call, cb);
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return impl;
}

/** Wraps protected unary handlers so they answer UNAUTHENTICATED without the right token. */
function guard(binding: ServiceBinding, token: string | undefined): grpc.UntypedServiceImplementation {
  if (!token || !binding.protectedMethods?.length) return binding.implementation;
  const impl: grpc.UntypedServiceImplementation = { ...binding.implementation };
  for (const method of binding.protectedMethods) {
    const inner = binding.implementation[method] as grpc.handleUnaryCall<unknown, unknown>;
    if (!inner) throw new Error(`protected method '${method}' is not in ${binding.name}`);
    impl[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const got = call.metadata.get("authorization")[0];
      if (got !== `Bearer ${token}`) {
        cb({ code: grpc.status.UNAUTHENTICATED, details: `${binding.name}/${method} changes state and needs 'authorization: Bearer <token>' metadata` });
        return;
      }
      inner(call, cb);
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  return impl;
}

/** Marks a request whose bytes did not decode as its message type (see `decodingOrMarking`). */
const UNDECODABLE = Symbol("undecodable");

/**
 * The definition with request decoding that never throws: bytes that are not the method's message become
 * a marker that `unary()` answers INVALID_ARGUMENT, instead of grpc-js's INTERNAL "Error deserializing".
 */
function decodingOrMarking(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [key, method] of Object.entries(definition)) {
    out[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err) {
          return { [UNDECODABLE]: `${(err as Error).message} (${bytes.byteLength} bytes)` };
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

export async function startGrpcServer(bindings: ServiceBinding[], opts: GrpcServerOptions = {}): Promise<RunningServer> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": 256 * 1024 * 1024, "grpc.max_send_message_length": 256 * 1024 * 1024 });
  const health = new HealthImplementation({ "": "NOT_SERVING" });
  health.addToServer(server);
  for (const b of bindings) {
    server.addService(decodingOrMarking(b.definition), opts.tokenDigests ? guardByIdentity(b, opts.tokenDigests) : guard(b, opts.controlToken));
    health.setStatus(b.name, "NOT_SERVING");
  }
  reflectionFor(bindings.map((b) => b.name))?.addToServer(server);
  if (opts.tokenDigests && !opts.tls?.ca) {
    throw new Error("per-identity gRPC authorisation (a token digests file) needs mutual TLS: set the certificate, its key and the CA");
  }
  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(
        opts.tls.ca ? readFileSync(opts.tls.ca) : null,
        [{ cert_chain: readFileSync(opts.tls.cert), private_key: readFileSync(opts.tls.key) }],
        Boolean(opts.tls.ca),
      )
    : grpc.ServerCredentials.createInsecure();
  const host = opts.host || "0.0.0.0";
  const advertised = advertisedHost({ bindHost: host, explicit: opts.advertiseHost ?? process.env.LSPO_ADVERTISE_HOST });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  health.setStatus("", "SERVING");
  for (const b of bindings) health.setStatus(b.name, "SERVING");
  const stop = async (graceMs = 2000) => {
    health.setStatus("", "NOT_SERVING");
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };
  return { address: `${advertised}:${port}`, port, health, stop, [Symbol.asyncDispose]: () => stop() };
}

/** A gRPC error with a status code, for handlers: `throw invalidArgument("spec.name", "unknown algorithm ...")`. */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function invalidArgument(field: string, problem: string): GrpcStatusError {
  return new GrpcStatusError(grpc.status.INVALID_ARGUMENT, `${field}: ${problem}`);
}

/**
 * INVALID_ARGUMENT from a bus validator's problem ("RolloutGroup.responses[0].logprobs[2] is NaN"), its root
 * renamed to the request field that holds the message ("group.responses[0].logprobs[2] is NaN").
 */
export function invalidMessage(field: string, kind: string, problem: string): GrpcStatusError {
  const text = problem.startsWith(kind) ? `${field}${problem.slice(kind.length)}` : `${field}: ${problem}`;
  return new GrpcStatusError(grpc.status.INVALID_ARGUMENT, text);
}

/** Adapts an async handler to grpc-js's callback form; errors become statuses (INTERNAL unless given). */
export function unary<Req, Res>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    const undecodable = (call.request as { [UNDECODABLE]?: string } | null)?.[UNDECODABLE];
    if (undecodable !== undefined) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: `request: not a valid ${call.getPath()} request message: ${undecodable}` });
      return;
    }
    fn(call.request, call).then(
      (res) => cb(null, res),
      (err: unknown) => {
        const code = err instanceof GrpcStatusError ? err.code : grpc.status.INTERNAL;
        cb({ code, details: err instanceof Error ? err.message : String(err) });
      },
    );
  };
}
