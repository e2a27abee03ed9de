// The sampler service: verified groups in (LSPO_VERIFIED), training batches of exactly B groups out
// (LSPO_BATCHES). For every message: judge -> persist the snapshot WITH what the judgement owes the bus
// (its outbox: the ledger records and any completed batch) -> publish the outbox -> ack. Nothing is
// published before the state that decided it is durable, so a replay never contradicts what others saw:
// - a crash before the persist loses the decision and its outputs together; the redelivered group is
//   judged afresh (maybe otherwise: the learner version moves), and nobody heard the first judgement;
// - a crash after it republishes the same outbox, same ids and content, at the restart (outbox.ts).
// Judging depends on the learner version read at that moment; the outbox, not a deterministic replay,
// is what keeps the ledger, the batches and the sampler's counts telling one story.
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
import { batchOwed, droppedOwed, flushOutbox, judgedOwed, type Outbound, type PersistedSampler } from "./outbox.js";
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

  /** The core as last persisted (a fresh one before the first snapshot), and the outbox persisted with it. */
  const restore = async (): Promise<{ core: SamplerCore; outbox: Outbound[] }> => {
    const saved = await store.info(snapshotName).catch(() => null);
    if (!saved || saved.deleted) return { core: new SamplerCore(config.sampler, config.run.maxOffPolicySteps), outbox: [] };
    const snap = decodeEnvelope(await getBlob(store, snapshotName), "SamplerSnapshot").body as PersistedSampler;
    const restored = new SamplerCore(config.sampler, config.run.maxOffPolicySteps, snap);
    ctx.log.info({ stats: restored.stats(), owed: (snap.outbox ?? []).length }, "restored sampler snapshot");
    return { core: restored, outbox: snap.outbox ?? [] };
  };
  let { core, outbox } = await restore();
  // Whether the outbox was published since it was persisted. A restored one may not have been.
  let owing = outbox.length > 0;

  let learnerVersion = 0;
  const refreshVersion = async () => {
    const ref = await kvGet<WeightsRef>(weightsKv, ctx.runId, "WeightsRef").catch(() => null);
    if (ref) learnerVersion = Number(ref.value.version);
  };
  await refreshVersion();

  // One decision at a time (a verified group, an UpdateConfig, the run's close): each persists its state
  // with its outbox and publishes it before the next begins.
  let turn: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn, fn);
    turn = run.catch(() => undefined);
    return run;
  };
  /** Publishes what the last persisted decision owes, if anything (a previous publish may have failed). */
  const settle = async () => {
    if (!owing) return;
    await flushOutbox({ ctx, store, log: (line, fields) => ctx.log.info(fields, line) }, outbox);
    owing = false;
  };
  // TEST-ONLY fault injection (test/e2e/sampler-outbox.int.test.ts): LSPO_FAULT_SAMPLER_KILL_AT_BATCH=<n> makes
  // the first incarnation SIGKILL itself after persisting its n-th batch and before publishing it. Unset in
  // every real deployment.
  let killAtBatch = process.env.LSPO_ACTOR_RESTARTS === "0" ? Number(process.env.LSPO_FAULT_SAMPLER_KILL_AT_BATCH ?? 0) : 0;
  /** Persists the core with what `owed` records, then publishes it. */
  const commit = async (owed: Outbound[]) => {
    await settle();
    outbox = owed;
    owing = owed.length > 0;
    const snap: PersistedSampler = { ...core.snapshot(), outbox };
    await putBlob(store, snapshotName, encodeEnvelope("SamplerSnapshot", snap));
    if (killAtBatch > 0 && owed.some((o) => o.kind === "batch") && --killAtBatch === 0) process.kill(process.pid, "SIGKILL");
    await settle();
  };
  // Ledger records of groups dropped away from their own judgement (batch mode, close, UpdateConfig).
  const dropsOwed = () => droppedOwed(core.takeDropped());
  const batchesOwed = (batches: EmittedBatch[]) => batches.flatMap(batchOwed);

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
            return exclusive(async () => {
              try {
                core.updateSettings(next);
              } catch (err) {
                if (err instanceof InvalidConfigError) throw invalidArgument(FIELD_OF[err.option] ?? `config.${err.option}`, err.message);
                throw err;
              }
              await commit(dropsOwed());
              return { config: settingsToProto(next) };
            });
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
        const n = await exclusive(async () => {
          const unused = core.closeRun();
          await commit(dropsOwed());
          return unused;
        });
        ctx.log.info({ unused: n }, "run closed");
      }
    }
  })().catch(() => undefined);

  // TEST-ONLY fault injection (the poison-message tests): LSPO_FAULT_SAMPLER_THROW_UID=<uid> makes judging
  // that group throw, as a bug triggered by one well-formed message would. Unset in every real deployment.
  const poisonUid = process.env.LSPO_FAULT_SAMPLER_THROW_UID;

  // What a restart owes from before it crashed goes out before anything new is judged.
  await exclusive(settle);

  void (async () => {
    for await (const d of sub) {
      // Each judgement goes to the controller (its sampler.jsonl: the length distribution vs thresholds) and
      // the ledger. A judgement that throws is retried by a restarted sampler from its snapshot, and on the
      // last delivery the group is dead-lettered (its uid dropped "dead-letter") with the restored state.
      await exclusive(async () => {
        const outcome = await processOrDeadLetter(d, config.bus.maxDeliver, async () => {
          await refreshVersion();
          if (poisonUid && d.body.group!.uid === poisonUid) throw new Error(`injected fault judging ${poisonUid} (LSPO_FAULT_SAMPLER_THROW_UID)`);
          const result = core.offer(d.body, learnerVersion);
          const lengths = d.body.group!.responses.map((r) => r.tokenIds.byteLength / 4);
          const judged = judgedOwed(d.body.group!.uid, lengths.reduce((a, b) => a + b, 0) / lengths.length, result.outcome, d.seq, d.deliveryCount);
          await commit([judged, ...batchesOwed(result.batches), ...dropsOwed()]);
        }, (vg) => [vg.group!.uid]);
        if (outcome === "dead-lettered") {
          // Judging may have changed the core before it threw: go back to the last persisted snapshot.
          ({ core, outbox } = await restore());
          owing = outbox.length > 0;
          ctx.log.error({ uid: d.body.group!.uid, seq: d.seq }, "verified group dead-lettered after its last delivery");
          return;
        }
        d.ack();
      });
    }
  })().catch((err: Error) => {
    ctx.log.error({ err: err.message }, "sampler loop failed");
    void ctx.shutdown("loop failure").then(() => process.exit(1));
  });
  ctx.log.info({ address: actor.server.address, mode: core.mode }, "sampler ready");
  return ctx;
}
