// The sampler service: verified groups in (LSPO_VERIFIED), training batches of exactly B groups out
// (LSPO_BATCHES). The sampler reads each verified group's summary header only (its consumer is
// headers-only: the tokens never reach it) and its batches name the kept groups by stream sequence; the
// learner reads their bodies from LSPO_VERIFIED (libs/bus group-summary.ts). For every message: judge ->
// publish what the judgement produced (its `judged` record, a completed batch; neither waited for: events
// and batches go out behind the judging, batches in order through their queue) -> hold the ack. Every
// sampler.snapshotEveryGroups groups (or snapshotEveryMs) everything published is awaited, the state is
// saved (durable.ts) and the held messages are acked.
//
// A judgement depends only on the state and the group (core.ts), so the verified stream's unacked tail is
// the journal: a restarted sampler restores its last snapshot and judges that tail again, in stream
// order, before it takes anything new. It makes the same decisions, so it emits the same records and the
// same batches, under the same ids, which are no-ops where they were published before (batches.ts). The
// batches emitted, by uid and in order, are those of a run that never crashed.
import {
  OBJECT_STORES, STREAMS, consume, openKv, openObjectStore, KV_BUCKETS, samplerSnapshotObject,
  nextOnSubject, parseGroupSummary, publishDeadLetter, publishEvent, readPayload, runBoundsOf, sendAck, type DeferredAck, type RunEvent,
} from "@lspo/bus";
import { InvalidConfigError, InvalidGroupError, validateGroup } from "@lspo/lspo";
import { readModelConfig } from "@lspo/tasks";
import { SerialQueue, createServiceContext, invalidArgument, serveActor, unary, type ServiceContext } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";
import {
  ComponentState, SamplerMode, SamplerServiceService,
  type GroupSummary, type RefillRequest, type UpdateConfigRequest,
} from "@lspo/proto";
import { SamplerCore, asGroup, settingsToProto, type CoreSnapshot, type SamplerSettings } from "./core.js";
import { BatchPublisher, droppedEvents, judgedEvent, type Judgement } from "./batches.js";
import { DurableState } from "./durable.js";
import { runFailedError } from "./failure.js";
import { GivenUp } from "./given-up.js";

// SamplerMode values UpdateConfig accepts (0 = keep the current mode).
const MODES: Record<number, SamplerSettings["mode"]> = { [SamplerMode.SAMPLER_MODE_BATCH]: "batch", [SamplerMode.SAMPLER_MODE_STREAM]: "stream" };
// The library's option names -> the request's fields, so a refused setting names what the caller sent.
const FIELD_OF: Record<string, string> = { batchSize: "config.batchSize", window: "config.window", lLow: "config.lLow", lHigh: "config.lHigh", lMax: "config.lMax" };
/** Events published and not yet acknowledged, at most (then the next judgement waits for them). */
const EVENTS_IN_FLIGHT = 256;
/** Judgements per `judged` event at most, and how long the first one waits for company. */
const JUDGEMENTS_PER_EVENT = 256;
const JUDGEMENTS_LINGER_MS = 20;
/** Batches queued for publishing at most (then the next judgement waits for them to go out). */
const BATCHES_IN_FLIGHT = 64;

export async function runSampler(config: RunConfig): Promise<ServiceContext> {
  const ctx = await createServiceContext("sampler", config);
  const store = await openObjectStore(ctx.nc, OBJECT_STORES.batches, { replicas: config.nats.replicas });
  const startedAt = new Date();
  const log = (line: string, fields: Record<string, unknown>) => ctx.log.info(fields, line);
  // What a verified group's summary must be before the sampler judges it: no more responses than the run's
  // G, and a group the LSPO library accepts (so offer() never throws mid-message). Its tokens are
  // checked where they are read: by the learner (token ids inside the vocabulary, the body matching this
  // summary).
  const bounds = runBoundsOf(config, readModelConfig(config.model.dir));
  const groupProblem = (body: unknown): string | null => {
    const s = body as GroupSummary;
    if (s.lengths.length > bounds.groupSize) return `GroupSummary has ${s.lengths.length} responses, more than the run's rollout.groupSize (${bounds.groupSize})`;
    try {
      validateGroup(asGroup(s), "GroupSummary");
      return null;
    } catch (err) {
      if (err instanceof InvalidGroupError) return err.message;
      throw err;
    }
  };
  const payload = { kind: "GroupSummary", fromHeaders: (h: Parameters<typeof parseGroupSummary>[0]) => parseGroupSummary(h), validate: groupProblem };
  let rejected = 0;
  /** Deliveries of groups judged before (their acks lost), acked without judging them again. */
  let redeliveredJudged = 0;

  const durable = new DurableState(ctx.nc, store, samplerSnapshotObject(ctx.runId), (object, err) =>
    ctx.log.warn({ object, err: err.message }, "deleting a dropped state segment failed"),
  );
  const newCore = (snapshot?: CoreSnapshot, uids?: string[]) => new SamplerCore(config.sampler, config.run.maxOffPolicySteps, snapshot, uids);
  /** The core as last saved (a fresh one before the first save) and the batches published since then. */
  const restore = async (): Promise<{ core: SamplerCore; publisher: BatchPublisher }> => {
    const saved = await durable.load(newCore);
    const publisher = new BatchPublisher(ctx, log, (err) => failed(err));
    const onStream = await publisher.loadPublishedAfter(saved?.batchesSeq ?? 0);
    const core = saved?.core ?? newCore();
    if (saved || onStream) ctx.log.info({ stats: core.stats(), uids: core.uidCount, batchesSinceSnapshot: onStream }, "restored sampler snapshot");
    return { core, publisher };
  };
  let { core, publisher } = await restore();

  // One decision at a time (a verified group, an UpdateConfig, the run's close, a snapshot).
  const decisions = new SerialQueue();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => decisions.run(fn);

  // Events go out without waiting for each pub-ack (a replay republishes any that were lost); all are
  // acknowledged before a snapshot that covers them is written.
  let events: Array<Promise<unknown>> = [];
  const flushEvents = async () => {
    const out = events;
    events = [];
    await Promise.all(out);
  };
  const emit = async (e: { event: "judged" | "ledger"; body: RunEvent; msgId: string }) => {
    const published = publishEvent(ctx.js, ctx.runId, e.event, e.body, e.msgId);
    // Its failure is the next flush's to report: one that comes before the flush must not be an unhandled
    // rejection, which would end the process outside failed() (a stop closing the connection under it did).
    published.catch(() => undefined);
    events.push(published);
    if (events.length >= EVENTS_IN_FLIGHT) await flushEvents();
  };
  // Judgements go out in groups (judgedEvent): at most JUDGEMENTS_PER_EVENT, at most JUDGEMENTS_LINGER_MS
  // after the first, and always before a batch's ledger record (the ledger reads a batch's groups as judged)
  // and before a snapshot.
  let judgements: Judgement[] = [];
  let lingering: NodeJS.Timeout | null = null;
  const emitJudgements = async () => {
    if (lingering) clearTimeout(lingering);
    lingering = null;
    if (judgements.length === 0) return;
    const out = judgements;
    judgements = [];
    await emit(judgedEvent(out));
  };

  // TEST-ONLY fault injection (test/e2e/sampler-replay.int.test.ts): LSPO_FAULT_SAMPLER_KILL_AT_BATCH=<n> makes
  // the first incarnation SIGKILL itself right after publishing its n-th batch, before a snapshot covers
  // it. Unset in every real deployment.
  let killAtBatch = process.env.LSPO_ACTOR_RESTARTS === "0" ? Number(process.env.LSPO_FAULT_SAMPLER_KILL_AT_BATCH ?? 0) : 0;
  // TEST-ONLY fault injection (the poison-message tests): LSPO_FAULT_SAMPLER_THROW_UID=<uid> makes judging
  // that group throw, as a bug triggered by one well-formed message would. Unset in every real deployment.
  const poisonUid = process.env.LSPO_FAULT_SAMPLER_THROW_UID;

  /** Judges one group and publishes what the judgement produced. */
  const decide = async (s: GroupSummary, seq: number) => {
    if (poisonUid && s.uid === poisonUid) throw new Error(`injected fault judging ${poisonUid} (LSPO_FAULT_SAMPLER_THROW_UID)`);
    const result = core.offer(s, seq);
    judgements.push({ uid: s.uid, length: s.lengths.reduce((a, b) => a + b, 0) / s.lengths.length, outcome: result.outcome, seq });
    if (judgements.length >= JUDGEMENTS_PER_EVENT || result.batches.length > 0) await emitJudgements();
    else lingering ??= setTimeout(() => void exclusive(emitJudgements).catch(failed), JUDGEMENTS_LINGER_MS);
    for (const b of result.batches) {
      publisher.enqueue(b, () => {
        if (killAtBatch > 0 && --killAtBatch === 0) process.kill(process.pid, "SIGKILL");
      });
    }
    if (publisher.waiting >= BATCHES_IN_FLIGHT) await publisher.drained();
    for (const e of droppedEvents(core.takeDropped())) await emit(e);
  };

  // Messages judged since the last snapshot, by stream sequence: acked once a snapshot covers them (only
  // their reply subjects are held). A null one is a message re-read at startup (its delivery died with the
  // last incarnation): once covered, a redelivery of it is acked unjudged. (Nothing judged is deleted: the
  // kept groups' bodies stay on LSPO_VERIFIED for the learner.)
  const held = new Map<number, DeferredAck | null>();
  const coveredTail = new Set<number>();
  let heldSince = 0;

  // A group whose judgement threw bus.maxDeliver times (counted by the sampler itself: given-up.ts) is
  // dead-lettered and stays on LSPO_VERIFIED (the letter names its sequence and holds only its first 64 KB; the
  // kept stream holds it all). So that no replay judges it again, its sequence is marked in the sampler's KV
  // bucket before the restart, and the replay skips what is marked. Were the mark not written, the message is
  // deleted instead (the old way: its tail past 64 KB then lives nowhere), since a group both dead-lettered and
  // judged would be counted twice.
  const controlKv = await openKv(ctx.nc, KV_BUCKETS.sampler, { replicas: config.nats.replicas });
  const givenUp = new GivenUp(controlKv, ctx.runId);
  /**
   * Counts a judgement that threw; at the bus.maxDeliver-th, `letter` dead-letters the group, it is marked,
   * and true is returned (false: it is left to be judged again, by this incarnation's replay or the next's).
   */
  const judgementFailed = async (seq: number, err: Error, letter: (reason: string, failures: number) => Promise<void>, where: "replay" | "delivery"): Promise<boolean> => {
    const failures = await givenUp.failed(seq);
    const dead = failures >= config.bus.maxDeliver;
    // One line per failed judgement, whichever path judged it.
    ctx.log.warn({ seq, where, failures, maxDeliver: config.bus.maxDeliver, err: err.message }, dead ? "judging threw its last time: dead-lettered" : "judging threw");
    if (!dead) return false;
    await letter(`judging failed ${failures} times (bus.maxDeliver ${config.bus.maxDeliver}): ${err.message}`, failures);
    try {
      await givenUp.mark(seq);
    } catch (markErr) {
      ctx.log.warn({ seq, err: (markErr as Error).message }, "could not mark a dead-lettered group in KV: deleting it from LSPO_VERIFIED instead");
      await ctx.jsm.streams.deleteMessage(STREAMS.verified.name, seq, false).catch(() => undefined);
    }
    return true;
  };
  /** Saves the state and acks every message it covers. */
  const checkpoint = async () => {
    await emitJudgements();
    await flushEvents();
    // The snapshot names the last batch published, and a replay from it emits only what follows it.
    await publisher.drained();
    await durable.save(core, publisher.lastSeq);
    for (const [seq, d] of held) {
      if (d) sendAck(ctx.nc, d);
      else coveredTail.add(seq);
    }
    held.clear();
    heldSince = 0;
  };
  const hold = async (seq: number, d: DeferredAck | null) => {
    held.set(seq, d);
    heldSince ||= Date.now();
    if (held.size >= config.sampler.snapshotEveryGroups) await checkpoint();
  };

  // Once the stop has begun, a publish or a save that fails is the stop's doing (the connection closing under
  // it), not the service's: what it left undone the restart's replay emits, and the service exits as stopped.
  const failed = (err: Error) => ctx.fail("sampler loop", err);

  const consumerName = await ctx.stageConsumer("sampler");

  /**
   * The journal's replay: the messages the last incarnation was delivered and did not get acked (judged
   * after its last snapshot, or never judged), judged again in stream order before anything new. A message
   * whose judgement throws is counted (given-up.ts) and left to its redelivery, or dead-lettered at the
   * bus.maxDeliver-th failure; either way the replay starts over without it, from the snapshot: the throw may
   * have left the core half-changed.
   */
  const replayTail = async (): Promise<number> => {
    const skip = new Set<number>();
    let loaded = false;
    for (;;) {
      const info = await ctx.jsm.consumers.info(STREAMS.verified.name, consumerName);
      if (!loaded) await givenUp.load(info.ack_floor.stream_seq);
      loaded = true;
      for (const seq of givenUp.sequences) skip.add(seq);
      let judged = 0;
      let thrown: number | null = null;
      for (let seq = info.ack_floor.stream_seq + 1; seq <= info.delivered.stream_seq; ) {
        const m = await nextOnSubject(ctx.jsm, STREAMS.verified.name, ctx.subjects.verified, seq);
        if (!m || m.seq > info.delivered.stream_seq) break;
        seq = m.seq + 1;
        if (skip.has(m.seq)) continue;
        const read = readPayload<GroupSummary>(m.data, payload, m.header);
        if ("failure" in read) continue; // refused (dead-lettered) when it was delivered
        if (m.seq <= core.lastJudgedSeq && core.hasSeen(read.body.uid)) {
          coveredTail.add(m.seq); // saved in the snapshot; its ack was lost with the last incarnation
          continue;
        }
        try {
          await decide(read.body, m.seq);
        } catch (err) {
          // Its delivery, when it comes back, is acked unjudged (marked) or judged again.
          const dead = await judgementFailed(m.seq, err as Error, (reason, failures) =>
            publishDeadLetter(ctx.js, { subject: m.subject, seq: m.seq, data: m.data, headers: m.header }, {
              stream: STREAMS.verified.name, kind: payload.kind, failure: "processing", reason, consumer: consumerName, deliveries: failures, uids: [read.body.uid],
            }),
          "replay");
          if (!dead) ctx.log.info({ seq: m.seq }, "replaying the unacked tail: left to its redelivery");
          thrown = m.seq;
          break;
        }
        held.set(m.seq, null);
        heldSince ||= Date.now();
        judged++;
      }
      if (thrown === null) return judged;
      skip.add(thrown);
      await emitJudgements();
      await flushEvents();
      await publisher.drained();
      held.clear();
      coveredTail.clear();
      ({ core, publisher } = await restore());
    }
  };
  // Before anything else is decided (UpdateConfig waits for it too).
  const replayed = await exclusive(replayTail);

  // A resume after the run's NATS store was lost (the controller restored this state from a checkpoint onto a
  // fresh server): the groups held for the next batch name messages of the old LSPO_VERIFIED, beyond the new
  // stream's last sequence (a stream's last sequence never goes back while it lives), so the batch they would
  // make could not be read. They are released as a closed run's are (unused: kept, never trained).
  const releasedWithStore = await exclusive(async () => {
    const verifiedLastSeq = (await ctx.jsm.streams.info(STREAMS.verified.name)).state.last_seq;
    if (core.maxHeldSeq <= verifiedLastSeq) return null;
    const unused = core.closeRun();
    for (const ev of droppedEvents(core.takeDropped())) await emit(ev);
    await checkpoint();
    return { unused, verifiedLastSeq };
  });
  if (releasedWithStore) ctx.log.warn(releasedWithStore, "the groups held for the next batch went with the NATS store: released as unused");

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
            // In its turn: the settings it starts from are the ones it replaces. Built before its turn, two
            // updates at once each started from the same settings, and the later one put back what the earlier
            // one had changed (and a replay's restore may replace the core meanwhile).
            return exclusive(async () => {
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
              for (const e of droppedEvents(core.takeDropped())) await emit(e);
              await checkpoint();
              return { config: settingsToProto(next) };
            });
          }),
          status: unary(async () => ({
            status: {
              name: ctx.name, kind: "sampler", node: ctx.node, pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING, startedAt,
              counters: { ...JSON.parse(JSON.stringify(core.stats())), rejected, redeliveredJudged },
            },
            config: settingsToProto(core.currentSettings),
          })),
        },
      },
    ],
    { name: ctx.name, kind: "sampler", runId: ctx.runId, replicas: ctx.config.nats.replicas, host: process.env.LSPO_GRPC_HOST, port: Number(process.env.LSPO_GRPC_PORT ?? 0), ...ctx.grpc.server },
  );
  ctx.own(() => actor.stop());

  const sub = await consume<GroupSummary>(ctx.js, {
    stream: STREAMS.verified.name,
    durable: consumerName,
    batch: 64,
    ...payload,
    onReject: (reason) => {
      rejected++;
      ctx.log.warn({ reason }, "rejected verified group summary (dead-lettered)");
    },
  });
  ctx.own(() => sub.stop());

  // The run's end: the controller sets `closed` in KV; pending groups become "unused".
  const closeKey = `${ctx.runId}.closed`;
  const watcher = await controlKv.watch({ key: closeKey });
  ctx.own(() => watcher.stop());
  void (async () => {
    for await (const e of watcher) {
      if (e.operation === "PUT" && e.value.byteLength > 0) {
        const n = await exclusive(async () => {
          const unused = core.closeRun();
          for (const ev of droppedEvents(core.takeDropped())) await emit(ev);
          await checkpoint();
          return unused;
        });
        ctx.log.info({ unused: n }, "run closed");
      }
    }
  })().catch(() => undefined);

  // A snapshot at most snapshotEveryMs after the first judgement it will cover, also when nothing follows.
  const timer = setInterval(() => {
    if (heldSince && Date.now() - heldSince >= config.sampler.snapshotEveryMs) {
      void exclusive(async () => (held.size ? checkpoint() : undefined)).catch(failed);
    }
  }, Math.max(50, Math.floor(config.sampler.snapshotEveryMs / 4)));
  ctx.own(() => clearInterval(timer));

  void (async () => {
    for await (const d of sub) {
      // Each judgement goes to the controller (its sampler.jsonl: the length distribution vs thresholds) and
      // the ledger. A judgement that throws is retried by a restarted sampler (from its snapshot and the
      // unacked tail), and at the bus.maxDeliver-th failure the group is dead-lettered (its uid dropped
      // "dead-letter").
      await exclusive(async () => {
        if (held.has(d.seq)) return void held.set(d.seq, d.deferAck()); // redelivered before its snapshot: ack it then
        if (coveredTail.delete(d.seq)) return d.ack(); // re-read at startup and saved since
        if (givenUp.has(d.seq)) return d.ack(); // dead-lettered by a replay, which could not end its delivery
        // Judged before, its ack lost: a crash between the snapshot and the acks, a lost ack, or a nats-server
        // killed before it wrote its consumer's state, which forgets the deliveries too and sends them again as
        // first deliveries (deliveryCount 1). Either way it is at or below the last sequence judged, which no
        // group published since can be (the consumer delivers in stream order), and its uid was judged.
        if (d.seq <= core.lastJudgedSeq && core.hasSeen(d.body.uid)) {
          redeliveredJudged++;
          ctx.log.info({ seq: d.seq, uid: d.body.uid, deliveryCount: d.deliveryCount }, "redelivery of a group judged before: acked, not judged again");
          return d.ack();
        }
        try {
          await decide(d.body, d.seq);
        } catch (err) {
          // Either way judging may have changed the core before it threw: restart from the snapshot and the
          // tail, whose replay judges this message again or, dead-lettered, skips it (marked).
          if (!(await judgementFailed(d.seq, err as Error, (reason, failures) => d.deadLetter(reason, { uids: [d.body.uid], deliveries: failures }), "delivery"))) throw err;
          throw new Error(`verified group ${d.body.uid} (seq ${d.seq}) dead-lettered after ${config.bus.maxDeliver} failed judgements; restarting from the last snapshot`);
        }
        await hold(d.seq, d.deferAck());
      });
    }
  })().catch(failed);
  ctx.log.info({ address: actor.server.address, mode: core.mode, replayed }, "sampler ready");
  return ctx;
}
