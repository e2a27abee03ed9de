// The verifier service: rollout groups in (LSPO_ROLLOUTS), verified groups out (LSPO_VERIFIED).
// At-least-once in, idempotent out: the published message id is the group uid, so a redelivered group
// (verifier killed after publishing, before acking) is dropped by JetStream's duplicate window.
import { STREAMS, allOf, consume, payloadLimits, publishVerified, runBoundsOf, validateRolloutGroup, vocabularyValidator, processOrDeadLetter } from "@lspo/bus";
import { readModelConfig } from "@lspo/tasks";
import { createServiceContext, invalidArgument, invalidMessage, serveActor, unary, type ServiceContext } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";
import { ComponentState, VerifierServiceService, type RolloutGroup, type VerifyRequest } from "@lspo/proto";
import { scoreGroup } from "./score.js";

export interface VerifierCounters {
  verified: number;
  correct: number;
  responses: number;
  rejected: number;
}

export async function runVerifier(config: RunConfig): Promise<ServiceContext> {
  const ctx = await createServiceContext("verifier", config);
  const counters: VerifierCounters = { verified: 0, correct: 0, responses: 0, rejected: 0 };
  const startedAt = new Date();
  const reward = config.task.reward;
  const scoring = config.task.verifier; // extraction mode and float tolerance
  // Token ids inside the vocabulary and a size the run can produce: a forged group stops here, before it
  // could reach the sampler's buffer or the learner's graph.
  const bounds = runBoundsOf(config, readModelConfig(config.model.dir));
  const inVocabulary = vocabularyValidator("RolloutGroup", bounds.vocabSize);
  const responsesWithinG = (body: unknown) => {
    const n = (body as RolloutGroup).responses.length;
    return n > bounds.groupSize ? `RolloutGroup.responses has ${n} entries, more than the run's rollout.groupSize (${bounds.groupSize})` : null;
  };

  const actor = await serveActor(
    ctx.nc,
    [
      {
        name: "lspo.v1.VerifierService",
        definition: VerifierServiceService,
        implementation: {
          verify: unary(async (req: VerifyRequest) => {
            if (!req.group) throw invalidArgument("group", "is required");
            if (req.group.responses.length === 0) throw invalidArgument("group.responses", "is empty");
            const problem = allOf(validateRolloutGroup, inVocabulary, responsesWithinG)(req.group);
            if (problem) throw invalidMessage("group", "RolloutGroup", problem);
            return { group: scoreGroup(req.group, reward, scoring) };
          }),
          status: unary(async () => ({
            status: {
              name: ctx.name, kind: "verifier", node: ctx.node, pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING,
              startedAt, counters: { ...counters },
            },
          })),
        },
      },
    ],
    { name: ctx.name, kind: "verifier", runId: ctx.runId, replicas: ctx.config.nats.replicas, host: process.env.LSPO_GRPC_HOST, port: Number(process.env.LSPO_GRPC_PORT ?? 0), ...ctx.grpc.server },
  );
  ctx.own(() => actor.stop());

  const durable = await ctx.stageConsumer("verifier");
  const sub = await consume<RolloutGroup>(ctx.js, {
    stream: STREAMS.rollouts.name,
    durable,
    kind: "RolloutGroup",
    maxBytes: payloadLimits(bounds).RolloutGroup,
    validate: allOf(inVocabulary, responsesWithinG),
    onReject: (reason) => {
      counters.rejected++;
      ctx.log.warn({ reason }, "rejected rollout group (dead-lettered)");
    },
  });
  ctx.own(() => sub.stop());

  void (async () => {
    for await (const d of sub) {
      const group = d.body;
      // A group whose scoring throws is retried by a restarted verifier, and dead-lettered (its uid dropped
      // "dead-letter" in the ledger) on its last delivery instead of crash-looping the verifiers.
      let scored: ReturnType<typeof scoreGroup> | null = null;
      const outcome = await processOrDeadLetter(d, config.bus.maxDeliver, async () => {
        scored = scoreGroup(group, reward, scoring);
        // With its summary header: the sampler reads only that (libs/bus group-summary.ts).
        await publishVerified(ctx.js, ctx.subjects.verified, scored, `verified-${group.uid}`);
      }, (g) => [g.uid]);
      if (outcome === "dead-lettered" || !scored) continue;
      d.ack();
      counters.verified++;
      counters.responses += group.responses.length;
      counters.correct += (scored as ReturnType<typeof scoreGroup>).correct.filter(Boolean).length;
      if (ctx.stopping) break;
    }
  })().catch((err: Error) => ctx.fail("verifier loop", err));
  ctx.log.info({ address: actor.server.address }, "verifier ready");
  return ctx;
}
