// The durable consumers the work-queue stages pull from, one per stage and run, described once: the
// controller creates them before it places any actor (under the shipped NATS permissions only it may), and
// each service binds to its own with exactly these settings (so binding writes nothing).
import type { RunConfig } from "@lspo/config";
import { STREAMS, subjectFor, type ConsumerOptions } from "@lspo/bus";

export type PipelineStage = "rollout" | "verifier" | "sampler";
export const PIPELINE_STAGES: readonly PipelineStage[] = ["rollout", "verifier", "sampler"];

export interface PipelineConsumer {
  stream: string;
  subject: string;
  durable: string;
  opts: ConsumerOptions;
}

export function pipelineConsumer(stage: PipelineStage, config: RunConfig): PipelineConsumer {
  const runId = config.run.name;
  const durable = `${stage}-${runId}`;
  switch (stage) {
    case "rollout":
      return {
        stream: STREAMS.prompts.name, subject: subjectFor("prompts", runId), durable,
        opts: {
          ackWaitMs: config.rollout.ackWaitMs,
          maxDeliver: config.bus.maxDeliver,
          maxAckPending: Math.max(promptsHeldPerActor(config) * config.rollout.actors, 16),
        },
      };
    case "verifier":
      return {
        stream: STREAMS.rollouts.name, subject: subjectFor("rollouts", runId), durable,
        opts: { ackWaitMs: config.verifier.ackWaitMs, maxDeliver: config.bus.maxDeliver },
      };
    case "sampler":
      return {
        stream: STREAMS.verified.name, subject: subjectFor("verified", runId), durable,
        // Judged messages wait for a snapshot before their ack: room for a full snapshot period and the pull buffer.
        // Headers only: the sampler judges a group by its summary header and never receives its tokens.
        // No delivery limit: the sampler counts its failed judgements itself and dead-letters at bus.maxDeliver
        // of them (services/sampler given-up.ts); the server's count also spends tries on deliveries nobody judged.
        opts: { ackWaitMs: config.sampler.ackWaitMs, maxDeliver: -1, maxAckPending: 2 * config.sampler.snapshotEveryGroups + 256, headersOnly: true },
      };
  }
}

/**
 * Prompts one rollout actor may hold unacked: by calls, the call in hand and the next one the client has
 * fetched (2 x promptsPerCall); continuous (rollout.maxRows), the groups decoding (maxRows / G, and one more
 * whose samples wait for rows), the intake's promptsPerCall and the client's fetch of as many. The consumer's
 * maxAckPending is shared by every actor: below their sum one actor's read-ahead starves another.
 */
export function promptsHeldPerActor(config: RunConfig): number {
  const { promptsPerCall: P, groupSize: G, maxRows } = config.rollout;
  return maxRows ? Math.ceil(maxRows / G) + 1 + 2 * P : 2 * P;
}
