// The credentials a deployment has, made the way an operator makes them: deploy/make-secrets.sh into a
// temporary directory (one NATS password, certificate and gRPC token per identity; token digests).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ClientOptions, GrpcServerOptions } from "@lspo/actors";
import { parseTokenDigests } from "@lspo/actors";

export const root = resolve(import.meta.dirname, "../../..");

export interface DeploymentSecrets {
  dir: string;
  ca: string;
  cert(identity: string): string;
  key(identity: string): string;
  token(identity: string): string;
  tokenFile(identity: string): string;
  natsPassword(identity: string): string;
  natsPasswordFile(identity: string): string;
  digestsFile: string;
  /** gRPC serving options as `identity` (its certificate, mutual TLS, per-identity authorisation). */
  server(identity: string): Pick<GrpcServerOptions, "tls" | "tokenDigests">;
  /** gRPC calling options as `identity` (expectIdentity still to be named per call). */
  client(identity: string, token?: string): ClientOptions;
}

export function makeDeploymentSecrets(namespace = "lspo"): DeploymentSecrets {
  const dir = join(mkdtempSync(join(tmpdir(), "lspo-deploy-secrets-")), "secrets");
  const r = spawnSync("bash", [join(root, "deploy/make-secrets.sh"), dir, namespace], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`deploy/make-secrets.sh failed (${r.status}): ${r.stderr}`);
  const read = (f: string) => readFileSync(join(dir, f), "utf8").trim();
  const digestsFile = join(dir, "grpc-token-digests");
  const digests = parseTokenDigests(readFileSync(digestsFile, "utf8"), digestsFile);
  const s: DeploymentSecrets = {
    dir,
    ca: join(dir, "tls/ca.crt"),
    cert: (id) => join(dir, `tls/${id}.crt`),
    key: (id) => join(dir, `tls/${id}.key`),
    token: (id) => read(`grpc-tokens/${id}`),
    tokenFile: (id) => join(dir, `grpc-tokens/${id}`),
    natsPassword: (id) => read(`nats-users/${id}`),
    natsPasswordFile: (id) => join(dir, `nats-users/${id}`),
    digestsFile,
    server: (id) => ({ tls: { cert: s.cert(id), key: s.key(id), ca: s.ca }, tokenDigests: digests }),
    client: (id, token) => ({ tlsCa: s.ca, tlsCert: s.cert(id), tlsKey: s.key(id), token: token ?? s.token(id), identity: id, deadlineMs: 5000 }),
  };
  return s;
}
