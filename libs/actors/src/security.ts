// The security settings every process of a run shares, read once from the run config (`nats.*`,
// `security.*`) with the LSPO_* environment taking precedence (Kubernetes mounts secrets as files and names
// them in env). Secrets are read from files, never taken from the config itself, and never logged.
import { busOptionsFromEnv, type BusOptions } from "@lspo/bus";
import { ConfigError, readSecret, type RunConfig } from "@lspo/config";
import { readFileSync } from "node:fs";
import type { ClientOptions } from "./grpc-client.js";
import type { GrpcServerOptions } from "./grpc-server.js";
import { identityOfCertFile, parseTokenDigests } from "./identity.js";

/** NATS connection options for a run: URL, user/password or token, TLS (CA, client certificate). */
export function busOptionsFor(config: RunConfig, name: string, env: NodeJS.ProcessEnv = process.env): BusOptions {
  const fromEnv = busOptionsFromEnv(env);
  const url = fromEnv.url ?? config.nats.url;
  if (!url) throw new ConfigError(`${name}: no NATS URL (set nats.url in the config or LSPO_NATS_URL)`);
  return {
    ...fromEnv,
    url,
    name,
    user: fromEnv.user ?? (config.nats.user || undefined),
    password: fromEnv.password ?? (readSecret(config.nats.passwordFile, "nats.passwordFile") || undefined),
    token: fromEnv.token ?? (readSecret(config.nats.tokenFile, "nats.tokenFile") || undefined),
    tlsCa: fromEnv.tlsCa ?? (config.nats.tlsCa || undefined),
    tlsCert: fromEnv.tlsCert ?? (config.nats.tlsCert || undefined),
    tlsKey: fromEnv.tlsKey ?? (config.nats.tlsKey || undefined),
  };
}

export interface GrpcSecurity {
  /** For serving: TLS (mutual when a CA is given) and the token that guards state-changing methods. */
  server: Pick<GrpcServerOptions, "tls" | "controlToken" | "tokenDigests">;
  /** For calling: the CA to verify servers, this deployment's certificate for mutual TLS, the token. */
  client: ClientOptions;
}

/**
 * gRPC security from `security.*` and LSPO_GRPC_TLS_CERT / _KEY / _CA, LSPO_GRPC_TOKEN(_FILE). With a CA,
 * servers require client certificates signed by it (mutual TLS) and clients present the same deployment
 * certificate. A certificate without its key (or the reverse) is an error naming the missing one.
 */
export function grpcSecurityFrom(security: RunConfig["security"], env: NodeJS.ProcessEnv = process.env): GrpcSecurity {
  const cert = env.LSPO_GRPC_TLS_CERT ?? security.grpcTlsCert;
  const key = env.LSPO_GRPC_TLS_KEY ?? security.grpcTlsKey;
  const ca = env.LSPO_GRPC_TLS_CA ?? security.grpcTlsCa;
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError(`gRPC TLS needs both a certificate and its key: security.grpcTlsCert (LSPO_GRPC_TLS_CERT) is ${cert ? "set" : "missing"}, security.grpcTlsKey (LSPO_GRPC_TLS_KEY) is ${key ? "set" : "missing"}`);
  }
  const token = env.LSPO_GRPC_TOKEN || readSecret(env.LSPO_GRPC_TOKEN_FILE ?? security.grpcTokenFile, "security.grpcTokenFile");
  // Per-identity mode: this process's certificate names its identity (clients then check every server's),
  // and the digests file lets its servers check every caller's.
  const identity = cert ? identityOfCertFile(cert) : null;
  const digestsFile = env.LSPO_GRPC_TOKEN_DIGESTS_FILE ?? security.grpcTokenDigestsFile;
  let tokenDigests: Map<string, Buffer> | undefined;
  if (digestsFile) {
    let text: string;
    try {
      text = readFileSync(digestsFile, "utf8");
    } catch (err) {
      throw new ConfigError(`security.grpcTokenDigestsFile (LSPO_GRPC_TOKEN_DIGESTS_FILE): cannot read ${digestsFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    tokenDigests = parseTokenDigests(text, digestsFile);
    if (!identity) throw new ConfigError(`gRPC token digests (${digestsFile}) need a certificate naming this process's identity (URI SAN spiffe://lspo/<identity>); ${cert || "no certificate"} names none`);
    if (!ca) throw new ConfigError("gRPC token digests need mutual TLS: set security.grpcTlsCa (LSPO_GRPC_TLS_CA)");
  }
  return {
    server: { tls: cert && key ? { cert, key, ca: ca || undefined } : undefined, controlToken: token || undefined, tokenDigests },
    client: { tlsCa: ca || undefined, tlsCert: cert || undefined, tlsKey: key || undefined, token: token || undefined, tlsServerName: env.LSPO_GRPC_TLS_SERVER_NAME || undefined, identity: identity ?? undefined },
  };
}

/**
 * Who this process is in the registry (the owner token of its node keys): its NATS user, which the shipped
 * permissions let write only its own keys, else the identity its gRPC certificate names, else "any". A NATS
 * user and a certificate that name different identities are a deployment error, refused here.
 */
export function registryIdentityOf(bus: Pick<BusOptions, "user">, grpc: GrpcSecurity): string {
  const cert = grpc.client.identity;
  if (bus.user && cert && bus.user !== cert) {
    throw new ConfigError(`this process's NATS user is '${bus.user}' but its gRPC certificate names identity '${cert}': each identity's NATS user and certificate must match`);
  }
  return bus.user || cert || "any";
}
