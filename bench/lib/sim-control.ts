// How a bench talks to its simulated rollout actors (sim-rollout.ts): over NATS, so an actor may run on
// any host of a cluster as well as in a local child process.
import type { NatsConnection } from "@lspo/bus";

/** Printed by a simulated actor once it listens for control requests. */
export const SIM_READY = "sim-rollout ready";

export function simControlSubject(name: string): string {
  return `lspo.bench.sim.${name}`;
}

/**
 * Points the named simulated actors at `run` and waits until each consumes its prompts. An actor still
 * starting has no subscriber yet ("no responders"): asked again until `timeoutMs`.
 */
export async function serveRun(nc: NatsConnection, names: readonly string[], run: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    names.map(async (name) => {
      for (;;) {
        try {
          const reply = new TextDecoder().decode((await nc.request(simControlSubject(name), JSON.stringify({ run }), { timeout: 30_000 })).data);
          if (reply !== "serving") throw new Error(`${name}: ${reply}`);
          return;
        } catch (err) {
          if ((err as Error).message.startsWith(`${name}:`) || Date.now() > deadline) {
            throw new Error(`simulated actor ${name} did not serve run ${run}: ${(err as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }),
  );
}
