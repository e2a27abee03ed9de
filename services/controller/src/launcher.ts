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

export const selfLauncher: ActorLauncher = (spec) => ({
  command: process.execPath,
  args: ["--conditions=source", "--import", tsx, cli, "serve", spec.kind],
});
