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
 * Per-kind NATS identities, for a node that starts several kinds of actors while the shipped NATS config
 * gives each component its own user: LSPO_NATS_USER_<KIND> and LSPO_NATS_PASSWORD_FILE_<KIND> (e.g.
 * LSPO_NATS_USER_LEARNER) become that actor's LSPO_NATS_USER / LSPO_NATS_PASSWORD_FILE. Unset: the actor
 * inherits the agent's identity.
 */
function identityOf(kind: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const k = kind.toUpperCase();
  const out: Record<string, string> = {};
  if (env[`LSPO_NATS_USER_${k}`]) out.LSPO_NATS_USER = env[`LSPO_NATS_USER_${k}`]!;
  if (env[`LSPO_NATS_PASSWORD_FILE_${k}`]) out.LSPO_NATS_PASSWORD_FILE = env[`LSPO_NATS_PASSWORD_FILE_${k}`]!;
  return out;
}

export const selfLauncher: ActorLauncher = (spec) => ({
  command: process.execPath,
  args: ["--conditions=source", "--import", tsx, cli, "serve", spec.kind],
  env: identityOf(spec.kind, process.env),
});
