// The rollout actor: prompts in (LSPO_PROMPTS, a work queue shared by all rollout actors: each prompt
// goes to one actor, and comes back to another if that one dies before acking), rollout groups out
// (LSPO_ROLLOUTS, message id = prompt uid). Before every generation it syncs to the newest weights, so each
// group records the exact policy version it was sampled with. Two modes: by calls (a call's prompts generated
// together, then the next call), or continuous with rollout.maxRows (stream.ts: prompts join one batch as rows
// free up, across calls, and the batch closes to take new weights).
import { STREAMS, consume, inBatches, payloadLimits, publishMessage, runBoundsOf, type Delivery } from "@lspo/bus";
import * as grpc from "@grpc/grpc-js";
import { GrpcStatusError, SerialQueue, createServiceContext, invalidArgument, serveActor, unary, type ServiceContext } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";
import { ComponentState, RolloutServiceService, type GenerateRequest, type PromptRequest, type RolloutGroup } from "@lspo/proto";
import { failedGeneration } from "./failed-generation.js";
import { generateGroups, type GroupOptions } from "./groups.js";
import { Intake } from "./intake.js";
import { Policy, RefusedWeightsError, WeightsFollower } from "./policy.js";
import { streamLoop } from "./stream.js";
import { promptProblem, samplingMismatch, type PromptLimits } from "./validate.js";

export async function runRollout(config: RunConfig): Promise<ServiceContext> {
  const ctx = await createServiceContext("rollout", config);
  const startedAt = new Date();
  const policy = await Policy.load({ modelDir: config.model.dir, device: config.model.device, threads: Number(process.env.LSPO_THREADS ?? config.model.threads) });
  ctx.log.info({ device: config.model.device, stateOnDevice: policy.stateOnDevice, model: config.model.dir }, "policy loaded");
  // Its pointer read and its publishes retry while NATS is away, but not once the stop has begun: the drain
  // would wait on every retry, and what the actor leaves undone is redelivered.
  const weights = await WeightsFollower.open(ctx.nc, ctx.runId, config.nats.replicas, { retryWhile: () => !ctx.stopping });
  // generateSeconds: time inside generation (the one in progress included, from generatingSince) and
  // syncSeconds: time loading new weights before one; together with the wall clock they give how busy the
  // actor is (bench/pipeline.ts).
  // decodeRows / liveRows: rows the decode steps computed, and those of a sequence still generating (row
  // occupancy = liveRows / decodeRows: what finished rows left idle in a batch cost).
  const counters = { groups: 0, responses: 0, tokens: 0, generateSeconds: 0, syncSeconds: 0, lateDuplicates: 0, rejected: 0, decodeRows: 0, liveRows: 0, weightsRefused: 0 };
  // A version refused (RefusedWeightsError: a value not finite, a shard not what the pointer says) is reported
  // once, and the actor holds its prompts until the pointer names other weights (WeightsFollower.holdWhileRefused).
  let lastRefusal: Error | null = null;
  const refused = (err: unknown): boolean => {
    if (!(err instanceof RefusedWeightsError)) return false;
    if (err !== lastRefusal) {
      lastRefusal = err;
      counters.weightsRefused++;
      ctx.log.error({ err: err.message, policyVersion: policy.version }, "weights refused: holding prompts until the pointer names other weights");
    }
    return true;
  };
  // Refused at startup: the actor starts all the same, and its loops hold before they generate.
  await weights.sync(policy).catch((err: unknown) => {
    if (!refused(err)) throw err;
  });
  let generatingSince = 0;
  let promptsInHand = 0; // call mode: the call's prompts
  const inFlight = new Set<Delivery<PromptRequest>>(); // continuous mode: admitted, not yet published
  let intake: Intake<PromptRequest> | null = null; // continuous mode: taken, not yet admitted
  const options: GroupOptions = {
    actor: ctx.name,
    maxNewTokens: config.rollout.maxNewTokens,
    temperature: config.rollout.temperature,
    topP: config.rollout.topP,
    topK: config.rollout.topK,
    seed: config.run.seed,
    maxRows: config.rollout.maxRows,
    onStep: (e) => {
      if (e.P === 0) return; // a prefill
      counters.decodeRows += e.B;
      counters.liveRows += e.live;
    },
  };
  const limits: PromptLimits = {
    vocabSize: policy.config.vocabSize,
    maxPositions: policy.config.maxPositionEmbeddings,
    maxGroupSize: config.rollout.groupSize,
    defaultMaxNewTokens: config.rollout.maxNewTokens,
    encode: (text) => policy.tokenizer.encode(text),
  };
  const maxBytes = payloadLimits(runBoundsOf(config, policy.config)).PromptRequest;
  // One generation at a time per actor: gRPC Generate (evaluation) and the stream share the session.
  const session = new SerialQueue();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => session.run(fn);
  // gRPC Generate calls waiting for the session: in continuous mode an open batch closes for them.
  let callsWaiting = 0;

  const actor = await serveActor(
    ctx.nc,
    [
      {
        name: "lspo.v1.RolloutService",
        definition: RolloutServiceService,
        implementation: {
          generate: unary(async (req: GenerateRequest) => {
            if (req.prompts.length === 0) throw invalidArgument("prompts", "is empty");
            req.prompts.forEach((p, i) => {
              const bad = promptProblem(p, `prompts[${i}]`, limits, false);
              if (bad) throw invalidArgument(bad.field, bad.problem);
            });
            const mixed = samplingMismatch(req.prompts);
            if (mixed) throw invalidArgument(mixed.field, mixed.problem);
            callsWaiting++; // until the session is ours (exclusive always runs fn, after what was queued before)
            return exclusive(async () => {
              callsWaiting--;
              await weights.sync(policy).catch((err: unknown) => {
                throw refused(err) ? new GrpcStatusError(grpc.status.FAILED_PRECONDITION, (err as Error).message) : err;
              });
              return { groups: await generateGroups(policy, req.prompts, options) };
            });
          }),
          status: unary(async () => ({
            status: {
              name: ctx.name, kind: "rollout", node: ctx.node, pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING, startedAt,
              counters: {
                ...counters,
                generateSeconds: counters.generateSeconds + (generatingSince ? (performance.now() - generatingSince) / 1000 : 0),
                policyVersion: policy.version,
                // Prompts taken from the stream and not yet acked (their groups not yet stored).
                promptsInHand: promptsInHand + inFlight.size + (intake?.size ?? 0),
              },
            },
            policyVersion: BigInt(policy.version),
          })),
        },
      },
    ],
    { name: ctx.name, kind: "rollout", runId: ctx.runId, replicas: ctx.config.nats.replicas, host: process.env.LSPO_GRPC_HOST, port: Number(process.env.LSPO_GRPC_PORT ?? 0), ...ctx.grpc.server },
  );
  ctx.own(() => actor.stop());

  const durable = await ctx.stageConsumer("rollout");
  const sub = await consume<PromptRequest>(ctx.js, {
    stream: STREAMS.prompts.name,
    durable,
    kind: "PromptRequest",
    batch: config.rollout.promptsPerCall,
    maxBytes,
    validate: (body) => {
      const bad = promptProblem(body as PromptRequest, "PromptRequest", limits, true);
      return bad && `${bad.field}: ${bad.problem}`;
    },
    onReject: (reason) => {
      counters.rejected++;
      ctx.log.warn({ reason }, "rejected prompt (dead-lettered)");
    },
  });
  let loopDone: Promise<void> = Promise.resolve();
  ctx.own(async () => {
    // Drain (ctx.stopping, set as the stop begins): stop taking prompts, finish and publish the generation in
    // hand, then stop.
    await sub.stop();
    await loopDone;
  });

  // Publishes one generation's groups together and acks each prompt once its group is stored: one round of
  // pub-acks per generation, where awaiting them one by one made it one round trip per group, with the
  // session idle in between (bench/rollout.ts). Not overlapped with the next generation: a prompt stays
  // unacked until its group is stored, and holding prompts across a generation would starve the other
  // actors under the consumer's maxAckPending (overlapping it did not measure faster here either).
  const publishGroups = async (groups: RolloutGroup[], deliveries: Delivery<PromptRequest>[]): Promise<void> => {
    await Promise.all(
      groups.map(async (group, i) => {
        const ack = await publishMessage(ctx.js, ctx.subjects.rollouts, "RolloutGroup", group, { msgId: `rollout-${group.uid}`, retryWhile: () => !ctx.stopping });
        deliveries[i].ack();
        if (ack.duplicate) {
          // A late result: this prompt was redelivered (we held it past the ack wait) and another actor's
          // group is already in the stream under the same id. JetStream dropped ours; nothing to undo.
          counters.lateDuplicates++;
          ctx.log.warn({ uid: group.uid, deliveryCount: deliveries[i].deliveryCount }, "late rollout dropped as a duplicate");
          return;
        }
        counters.groups++;
        counters.responses += group.responses.length;
        counters.tokens += group.responses.reduce((n, r) => n + r.tokenIds.byteLength / 4, 0);
      }),
    );
  };

  // A generation that throws, or whose groups could not be published (failed-generation.ts).
  const generationFailed = (err: Error, deliveries: Delivery<PromptRequest>[]): Promise<void> =>
    failedGeneration(err, deliveries, { maxDeliver: config.bus.maxDeliver, stopping: () => ctx.stopping, logError: (f, m) => ctx.log.error(f, m) });

  // Call mode: a call's prompts (up to promptsPerCall) generated together, then published together. While
  // the pointer names weights the actor refused, the call's prompts are held (not retried, not dead-lettered);
  // a drain meanwhile gives them back.
  const callLoop = async (): Promise<void> => {
    // A prompt still in flight to the call's batch when a drain ends the loop goes back at once.
    for await (const deliveries of inBatches(sub, config.rollout.promptsPerCall, 20, (d) => d.nak())) {
      promptsInHand = deliveries.length;
      const keepAlive = setInterval(() => deliveries.forEach((d) => d.working()), Math.max(1000, config.rollout.ackWaitMs / 3));
      try {
        let groups: RolloutGroup[] | null = null;
        while (!groups && (await weights.holdWhileRefused(() => ctx.stopping))) {
          groups = await exclusive(async () => {
            const s0 = performance.now();
            try {
              await weights.sync(policy);
            } catch (err) {
              if (refused(err)) return null;
              throw err;
            }
            const t0 = performance.now();
            counters.syncSeconds += (t0 - s0) / 1000;
            generatingSince = t0;
            try {
              return await generateGroups(policy, deliveries.map((d) => d.body), options);
            } finally {
              counters.generateSeconds += (performance.now() - t0) / 1000;
              generatingSince = 0;
            }
          });
        }
        if (groups) await publishGroups(groups, deliveries);
        else deliveries.forEach((d) => d.nak()); // drained while holding: another actor takes them now
      } catch (err) {
        await generationFailed(err as Error, deliveries);
      } finally {
        clearInterval(keepAlive);
        promptsInHand = 0;
      }
      if (ctx.stopping) break;
    }
  };

  // Continuous mode (rollout.maxRows): prompts join one batch as rows free up; groups go out as they end.
  const continuousLoop = (maxRows: number): Promise<void> =>
    streamLoop({
      policy, weights, exclusive, counters, inFlight,
      intake: (intake = new Intake(sub[Symbol.asyncIterator](), config.rollout.promptsPerCall)),
      options: { ...options, maxRows },
      callsWaiting: () => callsWaiting,
      draining: () => ctx.stopping,
      publish: (group, d) => publishGroups([group], [d]),
      failed: generationFailed,
      refused,
      generating: (since) => (generatingSince = since),
      ackWaitMs: config.rollout.ackWaitMs,
      warn: (fields, message) => ctx.log.warn(fields, message),
    });

  // During a drain, a generation's publish that fails (NATS away) is the stop's doing: its prompts, never
  // acked, are redelivered to another actor (ctx.fail).
  loopDone = (options.maxRows ? continuousLoop(options.maxRows) : callLoop()).catch((err: Error) => ctx.fail("rollout loop", err));
  ctx.log.info({ address: actor.server.address, policyVersion: policy.version, mode: options.maxRows ? "continuous" : "calls", maxRows: options.maxRows ?? null }, "rollout actor ready");
  return ctx;
}
