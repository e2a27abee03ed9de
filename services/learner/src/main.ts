// The learner service: training batches in (LSPO_BATCHES, read in order), one update each, weights out
// (object store + KV pointer), metrics and ledger records and checkpoint manifests out as run events
// (LSPO_EVENTS: the controller may be on another host), checkpoints every K steps into a directory on this
// host (LSPO_STATE_DIR, else run.dir). On start it resumes from the newest valid checkpoint there,
// replaying the batches after it.
import {
  OBJECT_STORES, openObjectStore, samplerSnapshotObject, KV_BUCKETS, openKv, kvGet, allOf, payloadLimits, publishEvent, runBoundsOf,
  vocabularyValidator, int32Of, type EventKind, type RunEvent,
} from "@lspo/bus";
import { SerialQueue, createServiceContext, GrpcStatusError, invalidArgument, serveActor, unary, type ServiceContext } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";
import { InvalidSpecError, UnknownNameError, presetSpec } from "@lspo/algos";
import { ComponentState, LearnerServiceService, type SwapAlgorithmRequest, type TrainingBatch } from "@lspo/proto";
import { readModelConfig, readModelDir } from "@lspo/tasks";
import { GIB, describeEstimate, learnerMemory, type LlamaConfig } from "@lspo/model";
import * as grpc from "@grpc/grpc-js";
import { readBatches } from "./batch-reader.js";
import { BatchAcks } from "./batch-acks.js";
import { CheckpointError, latestValidCheckpoint, listCheckpoints, writeCheckpoint } from "./checkpoint.js";
import { LearnerCore } from "./learner-core.js";
import { decodeTrainedUids, encodeTrainedUids } from "./trained-uids.js";
import { BatchAttempts } from "./attempts.js";
import { WeightsPublisher } from "./weights-publisher.js";
import { SAMPLER_STATE_FILE, encodeSamplerState, publishSamplerState, readSamplerState, SamplerStateUnread, type SamplerState, type SamplerStateRef } from "./sampler-state.js";
import { SwapGate, resumeSwaps } from "./swap-log.js";
import { miniBatchGroups } from "./update-plan.js";

/** An algorithm spec field ("name", "params.clip_low") as the SwapAlgorithm request names it. */
function specField(field: string): string {
  if (field === "spec") return "spec";
  if (field === "params") return "spec.overrides";
  if (field.startsWith("params.")) return `spec.overrides.${field.slice("params.".length)}`;
  return `spec.${field}`;
}

export async function runLearner(config: RunConfig): Promise<ServiceContext> {
  const ctx = await createServiceContext("learner", config);
  // The learner's own state (checkpoints) lives on its host: LSPO_STATE_DIR there, else run.dir (one host).
  const runDir = process.env.LSPO_STATE_DIR || config.run.dir;
  if (!runDir) throw new Error("learner: neither LSPO_STATE_DIR nor run.dir is set (the controller sets run.dir; pass run.dir=<path> when starting by hand)");
  // This process's identity in the ledger: a restarted learner is a new incarnation (see the controller's ledger.ts).
  const incarnation = `${ctx.name}-${process.pid}-${Date.now().toString(36)}`;
  let eventN = 0;
  // Every record travels over NATS; a record the learner cannot publish (NATS gone for the whole retry
  // budget) fails the loop, and the restarted learner replays from its checkpoint: no record is skipped.
  const emit = (kind: EventKind, body: RunEvent) => publishEvent(ctx.js, ctx.runId, kind, body, `${incarnation}-${eventN++}`);
  const metrics = { append: (r: RunEvent) => emit("metric", r) };
  const startedAt = new Date();
  // model.device, with LSPO_DEVICE already applied and validated by `lspo serve` (commands/serve.ts).
  const device = config.model.device;
  const threads = Number(process.env.LSPO_THREADS ?? config.model.threads);

  checkMemoryBudget(config, readModelConfig(config.model.dir));
  const { checkpoint, skipped } = latestValidCheckpoint(runDir);
  for (const reason of skipped) ctx.log.warn({ reason }, "skipped an invalid checkpoint");
  const model = checkpoint ? checkpoint.model : readModelDir(config.model.dir);
  const core = await LearnerCore.create(
    model.config,
    model.weights,
    { learner: config.learner, totalSteps: config.run.steps, maxResponseLength: config.rollout.maxNewTokens, device, threads, padId: model.config.padTokenId ?? 0, rolloutTemperature: config.rollout.temperature, batchSize: config.sampler.batchSize },
    checkpoint ? { optimizer: checkpoint.optimizer, algorithm: checkpoint.state.algorithm, step: checkpoint.state.step } : undefined,
    // The KL reference is the base model, read from its directory only if an algorithm ever needs it; the
    // trainer then takes the loaded weights and the checkpoint's moments instead of copies (issue 16: one
    // copy of the model, not three).
    () => readModelDir(config.model.dir).weights,
  );
  ctx.log.info({ device, stateOnDevice: core.stateOnDevice, threads }, "learner model ready");
  let lastSeq = checkpoint ? Number((checkpoint.state.cursor as { batchSeq?: number } | null)?.batchSeq ?? 0) : 0;
  let trainedGroups = checkpoint?.state.trainedGroups ?? 0;
  // Restored with the checkpoint: a uid trained before it and offered again is a duplicate across restarts.
  const trainedUids = checkpoint ? decodeTrainedUids(checkpoint.state.trainedUids, `${checkpoint.dir}/state.json`) : new Set<string>();
  let deadLetteredGroups = checkpoint?.state.deadLetteredGroups ?? 0;
  let duplicates = 0;
  let rejected = 0;
  let batchesRedelivered = 0; // delivered again by a server that forgot it had (batch-reader.ts): skipped
  // A batch the learner can train on: token ids inside the vocabulary, and every group with prompt token
  // ids and non-empty responses (the training rows are built from them). Refused batches are dead-lettered.
  const bounds = runBoundsOf(config, model.config);
  const trainable = (body: unknown): string | null => {
    const groups = (body as TrainingBatch).groups;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i].group!;
      if (g.responses.length > bounds.groupSize) return `TrainingBatch.groups[${i}].group.responses has ${g.responses.length} entries, more than the run's rollout.groupSize (${bounds.groupSize})`;
      if (int32Of(g.prompt!.promptIds).length === 0) return `TrainingBatch.groups[${i}].group.prompt.promptIds is empty (the learner trains on token ids)`;
      const empty = g.responses.findIndex((r) => r.tokenIds.byteLength === 0);
      if (empty >= 0) return `TrainingBatch.groups[${i}].group.responses[${empty}].tokenIds is empty`;
    }
    return null;
  };
  // Restored with the checkpoint: a batch whose groups were all stale is consumed without a step, so
  // the step alone undercounts consumed batches (and the controller would wait for one that never comes).
  let stale = checkpoint?.state.staleGroups ?? 0;
  let batchesConsumed = checkpoint ? (checkpoint.state.batchesConsumed ?? core.step) : 0;
  if (checkpoint) {
    ctx.log.info({ step: core.step, dir: checkpoint.dir, batchSeq: lastSeq }, "resumed from checkpoint");
    await metrics.append({ event: "resume", step: core.step, checkpoint: checkpoint.dir, node: ctx.node, skipped });
  }
  // The ledger's rollback point: what this incarnation trains replaces whatever came after this batch.
  await emit("ledger", { type: "restore", incarnation, batchSeq: lastSeq, step: core.step });

  const publisher = await WeightsPublisher.open(ctx.nc, ctx.runId, config.nats.replicas, 3, {
    dtype: config.model.storageDtype === "bf16" ? "BF16" : "F32",
    maxShardBytes: Math.round(config.learner.weightsShardMb * (1 << 20)),
    onDeleteFailed: (object, err) => ctx.log.warn({ object, err: err.message }, "deleting an old weights object failed"),
  });
  // Durable hot swaps (swap-log.ts); live ones and update starts take turns through the gate.
  const swaps = new SwapGate(core, await resumeSwaps(core, ctx.nc, ctx.runId, config.nats.replicas));
  await publisher.publish(core.weights, core.step, core.step);
  const batchStore = await openObjectStore(ctx.nc, OBJECT_STORES.batches, { replicas: config.nats.replicas });
  const samplerKv = await openKv(ctx.nc, KV_BUCKETS.sampler, { replicas: config.nats.replicas });
  const checkpointStore = await openObjectStore(ctx.nc, OBJECT_STORES.checkpoints, { replicas: config.nats.replicas });

  // The sampler's state rides in every checkpoint: its snapshot and the segments it names (sampler-state.ts),
  // read as one consistent set. Without it the checkpoint is still written (the sampler's own snapshot in NATS
  // remains the source of truth while NATS lives).
  const readSampler = async (): Promise<SamplerState | null> => {
    try {
      const state = await readSamplerState(batchStore, samplerSnapshotObject(ctx.runId));
      if (!state) ctx.log.info("the sampler has saved no snapshot yet; checkpoint written without it");
      return state;
    } catch (err) {
      if (err instanceof SamplerStateUnread) {
        ctx.log.warn({ err: err.message }, "sampler snapshot not read; checkpoint written without it");
        return null;
      }
      ctx.log.warn({ err: (err as Error).message }, "sampler snapshot malformed; checkpoint written without it");
      return null;
    }
  };
  /** The checkpoint's sampler state put in NATS for the controller's copy; null (logged) when it could not be. */
  const publishSampler = async (step: number, bytes: Uint8Array): Promise<SamplerStateRef | null> => {
    const keptSteps = listCheckpoints(runDir).map((d) => Number(d.split("step-").pop()));
    const onDeleteFailed = (object: string, err: Error) => ctx.log.warn({ object, err: err.message }, "deleting an old checkpoint's sampler state failed");
    return publishSamplerState(ctx.nc, checkpointStore, ctx.runId, step, bytes, keptSteps, onDeleteFailed).catch((err: Error) => {
      ctx.log.warn({ step, err: err.message }, "the checkpoint's sampler state could not be put in NATS; its manifest names none");
      return null;
    });
  };

  // Updates and checkpoints take turns: a checkpoint is always of a whole step.
  const steps = new SerialQueue();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => steps.run(fn);

  const checkpointNow = async (): Promise<string> => {
    // Between swaps: a swap still being logged (it may yet be refused) is not saved as pending (swap-log.ts).
    const algorithm = await swaps.between(() => core.algorithm.snapshot());
    const sampler = await readSampler();
    const samplerBytes = sampler ? encodeSamplerState(sampler) : null;
    const cursorEntry = await kvGet<unknown>(samplerKv, `${ctx.runId}.cursor`, "Cursor").catch(() => null);
    const dir = writeCheckpoint(
      runDir,
      { ...model, weights: core.weights },
      await core.optimizerStateView(),
      {
        step: core.step,
        policyVersion: core.step,
        algorithm,
        cursor: { batchSeq: lastSeq, data: cursorEntry?.value ?? null },
        trainedGroups,
        batchesConsumed,
        staleGroups: stale,
        trainedUids: encodeTrainedUids(trainedUids),
        deadLetteredGroups,
      },
      config.learner.keepCheckpoints,
      samplerBytes ? { [SAMPLER_STATE_FILE]: samplerBytes } : {},
    );
    // The manifest: what `lspo train --resume` on another host needs (the checkpoint itself stays here). The
    // sampler's state goes by reference: an object in NATS, which the controller copies as the manifest arrives.
    const samplerState = samplerBytes ? await publishSampler(core.step, samplerBytes) : null;
    await emit("checkpoint", {
      event: "checkpoint", step: core.step, dir, node: ctx.node, incarnation, batchSeq: lastSeq, cursor: cursorEntry?.value ?? null,
      samplerState, samplerBytes: samplerBytes?.byteLength ?? 0, trainedGroups, batchesConsumed, staleGroups: stale,
    });
    return dir;
  };

  const actor = await serveActor(
    ctx.nc,
    [
      {
        name: "lspo.v1.LearnerService",
        definition: LearnerServiceService,
        protectedMethods: ["swapAlgorithm", "checkpoint"],
        implementation: {
          swapAlgorithm: unary(async (req: SwapAlgorithmRequest) => {
            if (!req.spec?.name) throw invalidArgument("spec.name", "is required (grpo, dapo, gspo, dr_grpo)");
            try {
              // Logged to KV before answering, so it survives a crash (swap-log.ts).
              // Not applied by an update before it is logged (SwapGate): the answer is the record logged.
              const { effectiveStep, spec: pending } = await swaps.swap({ name: req.spec.name, params: (req.spec.overrides as Record<string, unknown>) ?? {} });
              ctx.log.info({ to: pending.name, effectiveStep }, "algorithm swap requested");
              return {
                effectiveStep: BigInt(effectiveStep),
                active: { name: core.algorithm.active.name, overrides: JSON.parse(JSON.stringify(core.algorithm.active.params)) },
                pending: { name: pending.name, overrides: JSON.parse(JSON.stringify(pending.params)) },
              };
            } catch (err) {
              // The spec's own paths (name, params.<key>) as the request's (spec.name, spec.overrides.<key>).
              if (err instanceof UnknownNameError) throw invalidArgument("spec.name", err.message);
              if (err instanceof InvalidSpecError) throw invalidArgument(specField(err.field), err.message);
              throw err;
            }
          }),
          checkpoint: unary(async () => {
            try {
              const dir = await exclusive(checkpointNow);
              return { step: BigInt(core.step), path: dir };
            } catch (err) {
              if (err instanceof CheckpointError) throw new GrpcStatusError(grpc.status.RESOURCE_EXHAUSTED, err.message);
              throw err;
            }
          }),
          status: unary(async () => ({
            status: {
              name: ctx.name, kind: "learner", node: ctx.node, pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING, startedAt,
              counters: {
                step: core.step, trainedGroups, duplicates, stale, batchSeq: lastSeq, batchesConsumed, batchesRedelivered, rejected, deadLetteredGroups,
                busySeconds: busySeconds + (busySince ? (performance.now() - busySince) / 1000 : 0),
              },
            },
            step: BigInt(core.step),
            policyVersion: BigInt(core.step),
            algorithm: { name: core.algorithm.active.name, overrides: JSON.parse(JSON.stringify(core.algorithm.active.params)) },
          })),
        },
      },
    ],
    { name: ctx.name, kind: "learner", runId: ctx.runId, replicas: ctx.config.nats.replicas, host: process.env.LSPO_GRPC_HOST, port: Number(process.env.LSPO_GRPC_PORT ?? 0), ...ctx.grpc.server },
  );
  ctx.own(() => actor.stop());
  ctx.own(() => core.release());

  // Poison batches. The batch consumer is re-created from the checkpoint at every start, so the server's
  // delivery count restarts with the process; the learner counts its own attempts per batch (attempts.ts).
  // An attempt that fails before bus.maxDeliver crashes the learner (restart from the checkpoint, the usual
  // recovery); the last one dead-letters the batch. A batch that kept killing the process outright (no
  // exception to catch) is dead-lettered without another try once its attempts are used up; one already
  // dead-lettered (met again on a replay) is skipped the same way.
  const attempts = new BatchAttempts(runDir);
  type Outcome = "done" | { reason: string; attempts: number };
  const attempt = async (seq: number, work: () => Promise<void>): Promise<Outcome> => {
    const max = config.bus.maxDeliver;
    const before = attempts.get(seq);
    const n = (before?.n ?? 0) + 1;
    if (n > max) return { reason: before?.reason ?? `the learner died on each of its ${max} attempts at this batch`, attempts: n - 1 };
    attempts.set(seq, { n });
    try {
      await work();
      attempts.set(seq, null);
      return "done";
    } catch (err) {
      if (n < max) throw err;
      const reason = `update failed on attempt ${n} of ${max}: ${(err as Error).message}`;
      attempts.set(seq, { n: max + 1, reason });
      return { reason, attempts: n };
    }
  };

  // Seconds spent on batches (update, weights publish, checkpoint), the one in hand included: the rest of
  // the wall clock the learner waited for a batch (bench/pipeline.ts reports it as idle time).
  let busySeconds = 0;
  let busySince = 0;
  ctx.own(() => steps.idle()); // finish the update in hand (ctx.stopping ends the loop before the next)

  // A batch counts as consumed once its update's weights are published (or it trained nothing), not when
  // its update starts: Status answers during an update, and the controller's sync mode feeds the next
  // prompts when every batch is consumed. Counted at the start, they went out a moment into the update and
  // were generated with the weights before it (policy lag 1 in sync mode).
  const train = async (seq: number, batch: TrainingBatch) => {
    const startedAt = new Date().toISOString();
    const staleUids: string[] = [];
    const fresh = batch.groups.filter((g) => {
      const uid = g.group!.uid;
      if (trainedUids.has(uid)) {
        duplicates++;
        return false;
      }
      // The staleness bound holds at the moment of use: a group that waited in the sampler while the
      // learner moved on is dropped and counted here, never silently trained on.
      if (core.step - Number(g.group!.policyVersion) > config.run.maxOffPolicySteps) {
        stale++;
        staleUids.push(uid);
        return false;
      }
      return true;
    });
    const record = (trained: string[]) =>
      emit("ledger", { type: "learner", incarnation, batchSeq: seq, batchIndex: Number(batch.batchIndex), step: core.step, trained, stale: staleUids });
    if (fresh.length === 0) {
      lastSeq = seq;
      batchesConsumed++;
      await record([]);
      return;
    }
    const rec = await swaps.startUpdate(() => core.update(fresh));
    for (const g of fresh) trainedUids.add(g.group!.uid);
    trainedGroups += fresh.length;
    lastSeq = seq;
    await publisher.publish(core.weights, core.step, core.step);
    // The update's end as the controller's sync mode sees it: from here the batch counts as consumed and the
    // next prompts may go out, before this record's own time (after the ledger record below).
    const weightsPublishedAt = new Date().toISOString();
    batchesConsumed++;
    await record(fresh.map((g) => g.group!.uid));
    // A swap replayed after a crash is published again (a new incarnation's event id): summary.json keeps
    // one per (step, algorithm, parameters) (services/controller run/summary.ts).
    if (rec.swap) await metrics.append({ event: "swap", step: rec.swap.step, from: rec.swap.from, to: rec.swap.to, parameters: rec.swap.parameters });
    const { swap: _swap, ...update } = rec;
    await metrics.append({
      event: "update",
      ...update,
      startedAt,
      weightsPublishedAt, // the record's own time is later still
      batchIndex: Number(batch.batchIndex),
      thresholds: batch.thresholds ?? null,
      policyLag: Math.max(...fresh.map((g) => core.step - 1 - Number(g.group!.policyVersion))),
      staleDropped: batch.groups.length - fresh.length,
    });
    ctx.log.info({ step: rec.step, loss: rec.loss, reward: rec.meanReward, algorithm: rec.algorithm }, "update");
    if (config.learner.checkpointEvery > 0 && core.step % config.learner.checkpointEvery === 0) {
      try {
        await checkpointNow();
      } catch (err) {
        // Loud, but training goes on: the last good checkpoint is still there.
        ctx.log.error({ err: (err as Error).message }, "checkpoint failed");
        await metrics.append({ event: "checkpoint-failed", step: core.step, error: (err as Error).message });
      }
    }
  };

  // Acks a NATS restart lost are sent again once it is back (batch-acks.ts).
  const acks = new BatchAcks(ctx.nc);
  const resending = acks.follow((answered) => ctx.log.info({ answered }, "sent the latest batch acks again after a reconnect"));
  ctx.own(() => resending.stop());

  void (async () => {
    const batches = readBatches(
      ctx.js,
      ctx.jsm,
      `learner-${ctx.runId}`,
      ctx.subjects.batches,
      lastSeq + 1,
      batchStore,
      (seq, reason) => {
        rejected++;
        ctx.log.warn({ seq, reason }, "rejected a training batch (dead-lettered)");
      },
      { maxBytes: payloadLimits(bounds).TrainingBatch, groupMaxBytes: payloadLimits(bounds).VerifiedGroup, validate: allOf(vocabularyValidator("TrainingBatch", bounds.vocabSize), trainable) },
      {
        maxDeliver: config.bus.maxDeliver,
        acks,
        onRedelivered: (seq) => {
          batchesRedelivered++;
          ctx.log.warn({ seq, lastSeq }, "a training batch delivered again was skipped (the server forgot it had delivered it)");
        },
      },
    );
    for await (const msg of batches) {
      const { seq, batch, done } = msg;
      if (ctx.stopping) break;
      // The run is `run.steps` updates long: batches beyond it stay in the stream (unused, counted).
      if (core.step >= config.run.steps) {
        ctx.log.info({ step: core.step }, "reached run.steps; not training further");
        break;
      }
      busySince = performance.now();
      // A long update keeps its batch: the ack deadline is extended while it runs.
      const keepAlive = setInterval(() => msg.working(), 60_000);
      // A failed attempt may have counted part of the batch: the counters go back to before it.
      const counted = { batchesConsumed, stale, duplicates };
      try {
        const outcome = await attempt(seq, () => exclusive(() => train(seq, batch)));
        if (outcome !== "done") {
          // Poison: its groups end in the ledger as dead-lettered and the run goes on with the next batch.
          ({ batchesConsumed, stale, duplicates } = counted);
          const uids = batch.groups.map((g) => g.group!.uid);
          await msg.deadLetter(outcome.reason, uids, outcome.attempts);
          batchesConsumed++;
          deadLetteredGroups += uids.length;
          lastSeq = seq;
          ctx.log.error({ seq, batchIndex: Number(batch.batchIndex), reason: outcome.reason }, "training batch dead-lettered");
          await metrics.append({ event: "error", step: core.step, error: `training batch ${seq} (index ${batch.batchIndex}) dead-lettered: ${outcome.reason}` });
        }
      } finally {
        clearInterval(keepAlive);
        busySeconds += (performance.now() - busySince) / 1000;
        busySince = 0;
      }
      done();
    }
  })().catch((err: Error) => ctx.fail("learner loop", err, () => metrics.append({ event: "error", step: core.step, error: err.message })));
  ctx.log.info({ address: actor.server.address, step: core.step, algorithm: core.algorithm.active.name }, "learner ready");
  return ctx;
}

/** Prompt tokens the memory estimate allows for on top of rollout.maxNewTokens (the longest row sets T). */
const PROMPT_TOKENS_ALLOWED = 256;

/**
 * Refuses to start, with the numbers, when the learner's estimated peak (libs/model memory.ts) is above
 * learner.memoryBudgetGb: an update that would be killed halfway for memory fails here instead.
 */
export function checkMemoryBudget(config: RunConfig, model: LlamaConfig): void {
  const budget = config.learner.memoryBudgetGb;
  if (!(budget > 0)) return;
  const l = config.learner;
  // A pass holds the rows of one optimizer step (a mini-batch of groups), or learner.microBatch of them.
  const rowsPerStep = miniBatchGroups(config.sampler.batchSize, l.ppoMiniBatch) * config.rollout.groupSize;
  const rows = l.microBatch > 0 ? Math.min(l.microBatch, rowsPerStep) : rowsPerStep;
  const seq = config.rollout.maxNewTokens + PROMPT_TOKENS_ALLOWED;
  // An algorithm with a KL term makes the learner read the base model as its reference: one copy more.
  const kl = presetSpec(l.algorithm.name, l.algorithm.overrides).params.kl_coef > 0;
  const e = learnerMemory(model, { rows, seq, scored: config.rollout.maxNewTokens, recompute: l.recompute, vocabChunk: l.vocabChunk, weightCopies: kl ? 1 : 0, accumulates: rows < rowsPerStep });
  if (e.bytes > budget * GIB) {
    throw new Error(
      `learner: the estimated peak is ${describeEstimate(e)} for ${rows} rows of up to ${seq} tokens per pass, above learner.memoryBudgetGb ${budget} GiB; ` +
        `lower learner.microBatch (rows per pass) or rollout.maxNewTokens, set learner.recompute, or raise the budget (docs/BENCHMARKS.md "Memory model")`,
    );
  }
}

