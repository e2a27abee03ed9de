// The run's work-queue consumers whose given-up messages the controller dead-letters (watchMaxDeliveries):
// a message the server stopped delivering without its consumer's handler seeing the last failure (the
// consumer died with it in hand each time) still ends in the ledger, as "dead-letter", with the reason.
import { STREAMS, watchMaxDeliveries, type JetStreamClient, type JetStreamManager, type MaxDeliveriesWatcher, type NatsConnection } from "@lspo/bus";
import type { PromptRequest, RolloutGroup } from "@lspo/proto";

export function watchRunDeadLetters(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, runId: string, graceMs = 5000): MaxDeliveriesWatcher {
  // Not the sampler's consumer: it has no delivery limit (so no such advisory); the sampler counts its own failed
  // judgements and dead-letters at bus.maxDeliver of them (services/sampler given-up.ts).
  return watchMaxDeliveries(nc, js, jsm, runId, [
    { stream: STREAMS.prompts.name, durable: `rollout-${runId}`, kind: "PromptRequest", uidsOf: (b) => [(b as PromptRequest).uid] },
    { stream: STREAMS.rollouts.name, durable: `verifier-${runId}`, kind: "RolloutGroup", uidsOf: (b) => [(b as RolloutGroup).uid] },
  ], graceMs);
}
