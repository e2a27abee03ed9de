// The gRPC client settings of an operator's command (`lspo status`, `lspo swap-algorithm`): the deployment's
// own (LSPO_GRPC_TLS_*, LSPO_GRPC_TOKEN(_FILE), through grpcSecurityFrom), with the command's flags over them.
import { readFileSync } from "node:fs";
import { grpcSecurityFrom, identityOfCertFile, type ClientOptions } from "@lspo/actors";
import { resolveConfig } from "@lspo/config";

export const GRPC_FLAG_OPTIONS = {
  "token-file": { type: "string" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const;

export const GRPC_FLAGS_USAGE = "[--token-file <file>] [--tls-ca <pem>] [--tls-cert <pem> --tls-key <pem>]";

export function operatorClientOptions(values: { "token-file"?: string; "tls-ca"?: string; "tls-cert"?: string; "tls-key"?: string }): ClientOptions {
  const client: ClientOptions = {
    ...grpcSecurityFrom(resolveConfig({}).security).client,
    ...(values["token-file"] ? { token: readFileSync(values["token-file"], "utf8").trim() } : {}),
    ...(values["tls-ca"] ? { tlsCa: values["tls-ca"] } : {}),
    ...(values["tls-cert"] ? { tlsCert: values["tls-cert"] } : {}),
    ...(values["tls-key"] ? { tlsKey: values["tls-key"] } : {}),
  };
  // The identity is the certificate's (an operator's, from make-secrets): each server must then prove its own.
  client.identity = client.tlsCert ? (identityOfCertFile(client.tlsCert) ?? undefined) : undefined;
  return client;
}
