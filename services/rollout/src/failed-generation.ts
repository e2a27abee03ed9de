// What becomes of the prompts of a generation that threw (or whose groups could not be published).
// - The prompts on their last delivery (bus.maxDeliver) are dead-lettered with the error, the others go back
//   for another try. With none at the limit the error is the actor's: it is rethrown, and the actor restarts
//   (the usual recovery). A well-formed prompt that always breaks generation stops here, not in a crash loop.
// - Once the actor's stop has begun, a failure is the stop's doing, not the prompts' (a publish that gave up
//   its retries because the drain began with NATS away: libs/bus publishMessage's retryWhile). It is rethrown
//   and nothing is dead-lettered: the prompts, never acked, come back to another actor, as after a crash.
import type { Delivery } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";

export interface FailedGenerationDeps {
  maxDeliver: number;
  /** True once the actor's stop has begun (ctx.stopping). */
  stopping: () => boolean;
  logError: (fields: Record<string, unknown>, message: string) => void;
}

export async function failedGeneration(err: Error, deliveries: Delivery<PromptRequest>[], deps: FailedGenerationDeps): Promise<void> {
  if (deps.stopping()) throw err;
  const last = deliveries.filter((d) => d.deliveryCount >= deps.maxDeliver);
  if (last.length === 0) throw err;
  const reason = `generation failed on delivery ${deps.maxDeliver} of ${deps.maxDeliver}: ${err.message}`;
  for (const d of deliveries) {
    if (last.includes(d)) await d.deadLetter(reason, { uids: [d.body.uid] });
    else d.nak(1000);
  }
  deps.logError({ uids: last.map((d) => d.body.uid), err: err.message }, "prompts dead-lettered after their last delivery");
}
