// How the node agent starts an actor process: this same CLI, `lspo serve <kind>`, run from TypeScript
// source (tsx, `source` export condition), with the run config in LSPO_ACTOR_CONFIG. Services stay
// ignorant of how they are launched; libs/actors stays ignorant of where services live.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { ActorLauncher } from "@lspo/actors";

const cli = fileURLToPath(new URL("./cli.ts", import.meta.url));
const tsx = createRequire(import.meta.url).resolve("tsx");

/** The actor kinds `lspo serve` runs: node agents refuse to start any other. */
export const ACTOR_KINDS = ["rollout", "verifier", "sampler", "learner"] as const;

/**
 * Per-kind identities, for a node that starts several kinds of actors (`lspo train`'s in-process agent)
 * while the deployment gives each component its own: LSPO_NATS_USER_<KIND>, LSPO_NATS_PASSWORD_FILE_<KIND>,
 * and, for gRPC, LSPO_GRPC_TLS_CERT_<KIND>, LSPO_GRPC_TLS_KEY_<KIND> and LSPO_GRPC_TOKEN_FILE_<KIND> (e.g.
 * LSPO_GRPC_TLS_CERT_LEARNER) become that actor's LSPO_NATS_USER, ..., LSPO_GRPC_TOKEN_FILE. Unset: the
 * actor inherits the agent's identity.
 */
function identityOf(kind: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const k = kind.toUpperCase();
  const given: Record<string, string | undefined> = {
    LSPO_NATS_USER: env[`LSPO_NATS_USER_${k}`],
    LSPO_NATS_PASSWORD_FILE: env[`LSPO_NATS_PASSWORD_FILE_${k}`],
    LSPO_GRPC_TLS_CERT: env[`LSPO_GRPC_TLS_CERT_${k}`],
    LSPO_GRPC_TLS_KEY: env[`LSPO_GRPC_TLS_KEY_${k}`],
    LSPO_GRPC_TOKEN_FILE: env[`LSPO_GRPC_TOKEN_FILE_${k}`],
  };
  return Object.fromEntries(Object.entries(given).filter((e): e is [string, string] => Boolean(e[1])));
}

export const selfLauncher: ActorLauncher = (spec) => ({
  command: process.execPath,
  args: ["--conditions=source", "--import", tsx, cli, "serve", spec.kind],
  env: identityOf(spec.kind, process.env),
});
