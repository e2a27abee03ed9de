// The sampler service: verified groups in (LSPO_VERIFIED), training batches of exactly B groups out
// (LSPO_BATCHES). For every message: judge -> publish any completed batch (idempotent id) -> persist the
// snapshot -> ack. A crash anywhere in that sequence replays the message against the last snapshot and
// reaches the same decision, and JetStream drops the republished batch as a duplicate.
import {
  KV_BUCKETS, OBJECT_STORES, STREAMS, allOf, consume, decodeEnvelope, encodeEnvelope, getBlob, kvGet, openKv, openObjectStore,
  payloadLimits, processOrDeadLetter, publishEvent, publishMessage, putBlob, runBoundsOf, vocabularyValidator,
} from "@lspo/bus";
import { InvalidConfigError, InvalidGroupError, validateGroup } from "@lspo/lspo";
import { readModelConfig } from "@lspo/tasks";
import { createServiceContext, invalidArgument, serveActor, unary, type ServiceContext } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";
import {
  ComponentState, SamplerMode, SamplerServiceService,
  type RefillRequest, type TrainingBatch, type UpdateConfigRequest, type VerifiedGroup, type WeightsRef,
} from "@lspo/proto";
import { SamplerCore, asGroup, settingsToProto, type CoreSnapshot, type EmittedBatch, type SamplerSettings } from "./core.js";
import { runFailedError } from "./failure.js";

// SamplerMode values UpdateConfig accepts (0 = keep the current mode).
const MODES: Record<number, SamplerSettings["mode"]> = { [SamplerMode.SAMPLER_MODE_BATCH]: "batch", [SamplerMode.SAMPLER_MODE_STREAM]: "stream" };
// The library's option names -> the request's fields, so a refused setting names what the caller sent.
const FIELD_OF: Record<string, string> = { batchSize: "config.batchSize", window: "config.window", lLow: "config.lLow", lHigh: "config.lHigh", lMax: "config.lMax" };


export async function runSampler(config: RunConfig): Promise<ServiceContext> {
  const ctx = await createServiceContext("sampler", config);
  const store = await openObjectStore(ctx.nc, OBJECT_STORES.batches, { replicas: config.nats.replicas });
  const weightsKv = await openKv(ctx.nc, KV_BUCKETS.weights, { replicas: config.nats.replicas });
  const snapshotName = `sampler-${ctx.runId}.snapshot`;
  const startedAt = new Date();
  // What a verified group must be before the sampler judges it: token ids inside the vocabulary, a size the
  // run can produce, and a group the LSPO library accepts (so offer() never throws mid-message).
  const bounds = runBoundsOf(config, readModelConfig(config.model.dir));
  const groupProblem = (body: unknown): string | null => {
    const vg = body as VerifiedGroup;
    if (vg.group!.responses.length > bounds.groupSize) return `VerifiedGroup.group.responses has ${vg.group!.responses.length} entries, more than the run's rollout.groupSize (${bounds.groupSize})`;
    try {
      validateGroup(asGroup(vg), "VerifiedGroup");
      return null;
    } catch (err) {
      if (err instanceof InvalidGroupError) return err.message;
      throw err;
    }
  };
  let rejected = 0;

  /** The core as last persisted (a fresh one before the first snapshot). */
  const restoreCore = async (): Promise<SamplerCore> => {
    const saved = await store.info(snapshotName).catch(() => null);
    if (!saved || saved.deleted) return new SamplerCore(config.sampler, config.run.maxOffPolicySteps);
    const snap = decodeEnvelope(await getBlob(store, snapshotName), "SamplerSnapshot").body as CoreSnapshot;
    const restored = new SamplerCore(config.sampler, config.run.maxOffPolicySteps, snap);
    ctx.log.info({ stats: restored.stats() }, "restored sampler snapshot");
    return restored;
  };
  let core = await restoreCore();

  let learnerVersion = 0;
  const refreshVersion = async () => {
    const ref = await kvGet<WeightsRef>(weightsKv, ctx.runId, "WeightsRef").catch(() => null);
    if (ref) learnerVersion = Number(ref.value.version);
  };
  await refreshVersion();

  const persist = async () => putBlob(store, snapshotName, encodeEnvelope("SamplerSnapshot", core.snapshot()));
  // Ledger records of groups dropped away from their own judgement (batch mode, close, UpdateConfig).
  const reportDropped = async () => {
    const byReason = new Map<string, string[]>();
    for (const d of core.takeDropped()) byReason.set(d.reason, [...(byReason.get(d.reason) ?? []), d.uid]);
    for (const [reason, uids] of byReason) await publishEvent(ctx.js, ctx.runId, "ledger", { type: "dropped", reason, uids }, `sampler-drop-${reason}-${uids[0]}`);
  };

  const publishBatch = async (b: EmittedBatch) => {
    const batch: TrainingBatch = {
      batchIndex: BigInt(b.index),
      groups: b.groups,
      thresholds: b.thresholds ? { low: b.thresholds.low, high: b.thresholds.high, max: b.thresholds.max, windowFill: 0 } : undefined,
      objectRef: "",
    };
    let body = batch;
    let byReference = false;
    // A batch that would not fit the server's max payload (with room for headers) travels by reference.
    const inlineLimit = Math.floor((ctx.nc.info?.max_payload ?? 1024 * 1024) * 0.9);
    if (encodeEnvelope("TrainingBatch", batch).byteLength > inlineLimit) {
      const ref = `batch-${ctx.runId}-${b.index}`;
      await putBlob(store, ref, encodeEnvelope("TrainingBatch", batch));
      body = { ...batch, groups: [], objectRef: ref };
      byReference = true;
    }
    // The ledger hears of the batch before the learner can: its uids are then trained, stale or unused.
    await publishEvent(ctx.js, ctx.runId, "ledger", { type: "batch", index: b.index, uids: b.groups.map((g) => g.group!.uid) }, `sampler-batch-${b.index}`);
    await publishMessage(ctx.js, ctx.subjects.batches, "TrainingBatch", body, { msgId: `batch-${ctx.runId}-${b.index}` });
    ctx.log.info({ batch: b.index, groups: b.groups.length, thresholds: b.thresholds, byReference }, "published training batch");
  };

  const stats = () => {
    const s = core.stats();
    return {
      accepted: BigInt(s.accepted),
      rejectedAllCorrect: BigInt(s.outcomes["all-correct"]),
      rejectedAllWrong: BigInt(s.outcomes["all-wrong"]),
      rejectedMiddleLength: BigInt(s.outcomes["middle-length"]),
      rejectedTooLong: BigInt(s.outcomes["too-long"]),
      duplicates: BigInt(s.duplicates),
      stale: BigInt(s.stale),
      acceptanceRate: s.acceptanceRate ?? 0,
      thresholds: s.thresholds ? { low: s.thresholds.low, high: s.thresholds.high, max: s.thresholds.max, windowFill: s.window?.lengths ?? 0 } : undefined,
      batchesEmitted: BigInt(s.batchesEmitted),
      offered: BigInt(s.offered),
      pending: s.pending,
      discardedOverflow: BigInt(s.discardedOverflow),
      detail: JSON.parse(JSON.stringify(s)),
      unused: BigInt(s.unused),
    };
  };

  const actor = await serveActor(
    ctx.nc,
    [
      {
        name: "lspo.v1.SamplerService",
        definition: SamplerServiceService,
        protectedMethods: ["updateConfig"],
        implementation: {
          stats: unary(async () => {
            if (core.failure) throw runFailedError(core.failure); // ends the run, once (failure.ts)
            return stats();
          }),
          refill: unary(async (req: RefillRequest) => ({ prompts: core.refill(req.inFlight), acceptanceRate: core.stats().smoothedAcceptance ?? core.stats().acceptanceRate ?? 0 })),
          updateConfig: unary(async (req: UpdateConfigRequest) => {
            const c = req.config;
            if (!c) throw invalidArgument("config", "is required");
            const next: SamplerSettings = { ...core.currentSettings };
            if (c.mode !== SamplerMode.SAMPLER_MODE_UNSPECIFIED) {
              const mode = MODES[c.mode];
              if (!mode) throw invalidArgument("config.mode", `unknown mode ${c.mode}; valid: SAMPLER_MODE_BATCH (1), SAMPLER_MODE_STREAM (2), or 0 to keep the current one`);
              next.mode = mode;
            }
            if (c.batchSize) next.batchSize = c.batchSize;
            if (c.window) next.window = c.window;
            for (const [k, v] of [["lLow", c.lLow], ["lHigh", c.lHigh], ["lMax", c.lMax]] as const) {
              if (v !== 0) {
                if (!(v > 0 && v <= 1)) throw invalidArgument(`config.${k}`, `must be in (0, 1], got ${v}`);
                next[k] = v;
              }
            }
            if (next.lHigh < next.lLow || next.lMax < next.lHigh) throw invalidArgument("config.lHigh", `need lLow <= lHigh <= lMax, got ${next.lLow}/${next.lHigh}/${next.lMax}`);
            // Optional in the contract: an update that does not mention the length filter leaves it as it is.
            if (c.lengthFilter !== undefined) next.lengthFilter = c.lengthFilter;
            try {
              core.updateSettings(next);
            } catch (err) {
              if (err instanceof InvalidConfigError) throw invalidArgument(FIELD_OF[err.option] ?? `config.${err.option}`, err.message);
              throw err;
            }
            await reportDropped();
            await persist();
            return { config: settingsToProto(next) };
          }),
          status: unary(async () => ({
            status: {
              name: ctx.name, kind: "sampler", node: ctx.node, pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING, startedAt,
              counters: { ...JSON.parse(JSON.stringify(core.stats())), rejected },
            },
            config: settingsToProto(core.currentSettings),
          })),
        },
      },
    ],
    { name: ctx.name, kind: "sampler", runId: ctx.runId, replicas: ctx.config.nats.replicas, host: process.env.LSPO_GRPC_HOST, port: Number(process.env.LSPO_GRPC_PORT ?? 0), ...ctx.grpc.server },
  );
  ctx.own(() => actor.stop());

  const durable = await ctx.consumerFor(STREAMS.verified.name, ctx.subjects.verified, { ackWaitMs: config.sampler.ackWaitMs, maxDeliver: config.bus.maxDeliver });
  const sub = await consume<VerifiedGroup>(ctx.js, {
    stream: STREAMS.verified.name,
    durable,
    kind: "VerifiedGroup",
    batch: 64,
    maxBytes: payloadLimits(bounds).VerifiedGroup,
    validate: allOf(vocabularyValidator("VerifiedGroup", bounds.vocabSize), groupProblem),
    onReject: (reason) => {
      rejected++;
      ctx.log.warn({ reason }, "rejected verified group (dead-lettered)");
    },
  });
  ctx.own(() => sub.stop());

  // The run's end: the controller sets `closed` in KV; pending groups become "unused".
  const closeKey = `${ctx.runId}.closed`;
  const controlKv = await openKv(ctx.nc, KV_BUCKETS.sampler, { replicas: config.nats.replicas });
  const watcher = await controlKv.watch({ key: closeKey });
  ctx.own(() => watcher.stop());
  void (async () => {
    for await (const e of watcher) {
      if (e.operation === "PUT" && e.value.byteLength > 0) {
        const n = core.closeRun();
        await reportDropped();
        await persist();
        ctx.log.info({ unused: n }, "run closed");
      }
    }
  })().catch(() => undefined);

  // TEST-ONLY fault injection (the poison-message tests): LSPO_FAULT_SAMPLER_THROW_UID=<uid> makes judging
  // that group throw, as a bug triggered by one well-formed message would. Unset in every real deployment.
  const poisonUid = process.env.LSPO_FAULT_SAMPLER_THROW_UID;

  void (async () => {
    for await (const d of sub) {
      // Each judgement goes to the controller (its sampler.jsonl: the length distribution vs thresholds) and
      // the ledger. A judgement that throws is retried by a restarted sampler from its snapshot, and on the
      // last delivery the group is dead-lettered (its uid dropped "dead-letter") with the restored state.
      const outcome = await processOrDeadLetter(d, config.bus.maxDeliver, async () => {
        await refreshVersion();
        if (poisonUid && d.body.group!.uid === poisonUid) throw new Error(`injected fault judging ${poisonUid} (LSPO_FAULT_SAMPLER_THROW_UID)`);
        const result = core.offer(d.body, learnerVersion);
        const lengths = d.body.group!.responses.map((r) => r.tokenIds.byteLength / 4);
        const uid = d.body.group!.uid;
        // One id per delivery: a publish retried for this delivery is deduplicated, but a redelivery judged
        // again (a sampler restarted from an older snapshot, possibly judging otherwise) is recorded, and
        // the ledger takes the latest judgement.
        await publishEvent(ctx.js, ctx.runId, "judged", { uid, length: lengths.reduce((a, b) => a + b, 0) / lengths.length, outcome: result.outcome }, `judged-${uid}-${d.seq}-${d.deliveryCount}`);
        for (const b of result.batches) await publishBatch(b);
        await reportDropped();
      }, (vg) => [vg.group!.uid]);
      if (outcome === "dead-lettered") {
        // Judging may have changed the core before it threw: go back to the last persisted snapshot.
        core = await restoreCore();
        ctx.log.error({ uid: d.body.group!.uid, seq: d.seq }, "verified group dead-lettered after its last delivery");
        continue;
      }
      await persist();
      d.ack();
    }
  })().catch((err: Error) => {
    ctx.log.error({ err: err.message }, "sampler loop failed");
    void ctx.shutdown("loop failure").then(() => process.exit(1));
  });
  ctx.log.info({ address: actor.server.address, mode: core.mode }, "sampler ready");
  return ctx;
}
