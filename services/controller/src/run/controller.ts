// `lspo train`: one controller drives the run (verl's single-controller shape). It brings up NATS (embedded
// unless nats.url is set), a node agent and the actors (learner, sampler, verifiers, rollout actors, each a
// supervised process), evaluates the base policy, then feeds prompts as the sampler asks for them until the
// learner has made `run.steps` updates, evaluates again, winds the pipeline down so every prompt is
// accounted for, and writes summary.json. `--resume <run-dir>` continues a run from its last checkpoint.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  KV_BUCKETS, OBJECT_STORES, STREAMS, busOptionsFromEnv, connectBus, ensureStreams, jetstream, jetstreamManager, kvGet, lastEvent, openKv,
  openObjectStore, publishMessage, publishModelDir, startNatsServer, streamLimitsOf, subjectFor, type JetStreamManager, type NatsServer, type RunEvent,
} from "@lspo/bus";
import { ActorNotFoundError, ActorRegistry, NodeAgent, actorHandle, busOptionsFor, grpcSecurityFrom } from "@lspo/actors";
import { provisionRun, provisionStage } from "./provision.js";
import { status as grpcStatus } from "@grpc/grpc-js";
import type { RunConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import {
  LearnerServiceService, RolloutServiceService, SamplerServiceService, type PromptRequest, type WeightsRef,
} from "@lspo/proto";
import { readModelConfig, writeModelDir } from "@lspo/tasks";
import { createLogger, type MetricRecord } from "@lspo/telemetry";
import { startCluster } from "./cluster.js";
import { evaluateHeldOut, type EvalResult } from "./evaluate.js";
import { Progress } from "./progress.js";
import { PromptSource, type PromptSourceState } from "./prompt-source.js";
import { takeLeftoverPrompts } from "./leftover-prompts.js";
import { restoreSamplerState } from "./restore-sampler.js";
import { SamplerStateCopies } from "./sampler-copies.js";
import { continueBatchSequence, lostWithStore, type LostWithStore } from "./empty-store-resume.js";
import { createRunDir, readRunInfo, saveRunConfig, writeRunInfo } from "./run-dir.js";
import { stopLeftoverNats } from "./leftover-nats.js";
import { RunEvents } from "./run-events.js";
import { watchRunDeadLetters } from "./dead-letters.js";
import { buildSummary, type Summary } from "./summary.js";
import { ControllerLease } from "./lease.js";
import { CursorKey } from "./cursor-key.js";

export interface TrainOptions {
  /** Resume the run in this directory from its last valid checkpoint. */
  resume?: string;
  /** Hook for tests: called once the actors are up (e.g. to kill one, or swap the algorithm). */
  onStep?: (step: number, run: RunningRun) => Promise<void> | void;
  quiet?: boolean;
}

export interface RunningRun {
  dir: string;
  config: RunConfig;
  /** The in-process node agent (cluster.agents "local"; reading it in "remote" mode throws). */
  agent: NodeAgent;
  registry: ActorRegistry;
  natsUrl: string;
  /** The embedded nats-server (null when nats.url points elsewhere): fault-injection tests restart it. */
  nats: NatsServer | null;
}

const log = createLogger("controller");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a step that changes the run (placing, stopping, feeding, closing) waits for its lease to be renewed. */
const LEASE_WAIT_MS = 120_000;

export class ActorFailedError extends Error {
  override name = "ActorFailedError";
}

function logTail(path: string, lines = 5): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // One attempt that never settles (a registry listing whose KV consumer stalls on a loaded NATS was seen
    // to hang for minutes) must not hold the wait: it is abandoned after 15 s and the next one starts.
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<null>((r) => (timer = setTimeout(() => r(null), Math.min(15_000, timeoutMs))));
    const v = await Promise.race([
      fn().catch((err: unknown) => {
        if (err instanceof ActorFailedError) throw err;
        return null;
      }),
      abandoned,
    ]).finally(() => clearTimeout(timer));
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A model directory for the run: the configured one, or a fresh one from `model.init` in the run dir. */
function prepareModel(config: RunConfig, dir: string): string {
  if (config.model.dir) {
    const d = resolve(config.model.dir);
    if (!existsSync(join(d, "config.json"))) throw new Error(`model.dir ${d}: no config.json there (not a Hugging Face model directory)`);
    // Before anything starts: an architecture we cannot run, or a file every actor needs, fails here with
    // the file named, not as actors crash-looping until they are marked FAILED.
    readModelConfig(d);
    if (!existsSync(join(d, "tokenizer.json"))) throw new Error(`model.dir ${d}: tokenizer.json is missing`);
    if (!existsSync(join(d, "model.safetensors")) && !existsSync(join(d, "model.safetensors.index.json"))) {
      throw new Error(`model.dir ${d}: no model.safetensors or model.safetensors.index.json (safetensors weights are required)`);
    }
    return d;
  }
  if (Object.keys(config.model.init).length === 0) throw new Error("set model.dir (a Hugging Face model directory) or model.init (an `lspo model init` spec)");
  const out = join(dir, "base-model");
  if (!existsSync(join(out, "config.json"))) writeModelDir(out, createModelFromSpec(config.model.init, "model.init"));
  return out;
}

/** `run.timeoutS` bounds the whole run — start-up, evaluation and wind-down included, not only the loop. */
export async function train(input: RunConfig, opts: TrainOptions = {}): Promise<Summary> {
  // The rollout actors refuse more responses per prompt than the run's G: say so before starting anything.
  if (input.eval.samples > input.rollout.groupSize) {
    throw new Error(`eval.samples (${input.eval.samples}) must be <= rollout.groupSize (${input.rollout.groupSize}): a rollout actor generates at most G responses per prompt`);
  }
  if (input.eval.metric === "sampled" && input.eval.samples === 0) {
    throw new Error(`eval.metric is "sampled" but eval.samples is 0: set eval.samples to the responses per held-out prompt (e.g. 4)`);
  }
  const limit = input.run.timeoutS;
  const owned: Array<() => Promise<void>> = [];
  if (limit <= 0) return trainUnbounded(input, opts, owned);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`run.timeoutS (${limit} s) passed before the run finished (start-up, evaluation or wind-down)`)), limit * 1000 + 30_000);
  });
  const run = trainUnbounded(input, opts, owned);
  try {
    return await Promise.race([run, expired]);
  } catch (err) {
    // The run may be stuck anywhere: release what it owns (actors, agent, NATS) directly, newest first.
    for (const d of owned.splice(0).reverse()) await d().catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function trainUnbounded(input: RunConfig, opts: TrainOptions, owned: Array<() => Promise<void>>): Promise<Summary> {
  const t0 = Date.now();
  const config: RunConfig = structuredClone(input);
  const dir = opts.resume ? resolve(opts.resume) : createRunDir(config);
  config.run.dir = dir;
  config.model.dir = prepareModel(config, dir);
  const cleanup = async () => {
    for (const d of owned.splice(0).reverse()) await d().catch(() => undefined);
  };

  try {
    let nats: NatsServer | null = null;
    // A NATS named in the environment (Kubernetes: LSPO_NATS_URL from ConfigMap lspo-env) is the run's NATS.
    config.nats.url ||= busOptionsFromEnv().url ?? "";
    if (!config.nats.url) {
      // A killed controller's embedded server may still hold the store (where it could not be told to die with
      // its controller): one server per store (leftover-nats.ts).
      const leftover = opts.resume && existsSync(join(dir, "run.json")) ? readRunInfo(dir).natsPid : undefined;
      if (await stopLeftoverNats(leftover, join(dir, "nats"))) log.warn({ natsPid: leftover }, "stopped the embedded nats-server a killed controller of this run left running");
      // Loopback unless LSPO_NATS_LISTEN_HOST says otherwise (e.g. 0.0.0.0 for agents on other hosts).
      nats = await startNatsServer({ storeDir: join(dir, "nats"), maxPayload: 8 * 1024 * 1024, host: process.env.LSPO_NATS_LISTEN_HOST, dieWithParent: true });
      owned.push(() => nats!.stop());
      config.nats.url = nats.url;
    }
    // The run's security (NATS credentials and TLS; gRPC TLS and control token), shared with every actor.
    const security = grpcSecurityFrom(config.security);
    const nc = await connectBus(busOptionsFor(config, "controller"));
    owned.push(() => nc.close());
    const runId = config.run.name;
    // One controller per run (lease.ts), taken before this one writes anything of the run, here or in NATS: a
    // second one refuses to start while the first lives, and one that another took the run from stands down.
    const samplerKv = await openKv(nc, KV_BUCKETS.sampler, { replicas: config.nats.replicas });
    const jsm = await jetstreamManager(nc);
    const lease = await ControllerLease.acquire(samplerKv, runId, undefined, {
      // A renewal that fails while the bucket's stream is not found: the store went (the stand-down says so).
      bucketGone: () => jsm.streams.info(`KV_${KV_BUCKETS.sampler}`).then(() => false, (err: Error) => /stream not found/i.test(err.message)),
    });
    owned.push(() => lease.release());
    saveRunConfig(dir, { ...config, nats: { ...config.nats, url: input.nats.url } });
    writeRunInfo(dir, { runId: config.run.name, natsUrl: config.nats.url, pid: process.pid, startedAt: new Date().toISOString(), ...(nats ? { natsPid: nats.pid } : {}) });
    await provisionRun(nc, jsm, config);
    const js = jetstream(nc);
    // What the actors report (metrics, judgements, ledger records, checkpoint manifests) arrives over NATS;
    // the controller keeps its own copies in its run dir and never reads a file another process wrote.
    // Each checkpoint's sampler state is copied into the run dir as its manifest arrives (sampler-copies.ts).
    const batchStore = await openObjectStore(nc, OBJECT_STORES.batches, { replicas: config.nats.replicas });
    const checkpointStore = await openObjectStore(nc, OBJECT_STORES.checkpoints, { replicas: config.nats.replicas });
    const samplerCopies = new SamplerStateCopies(dir, checkpointStore, config.learner.keepCheckpoints, (step, err) => {
      log.warn({ step, err: err.message }, "the checkpoint's sampler state could not be copied; a resume from it after the NATS store is lost starts the sampler afresh");
    });
    const events = await RunEvents.open(js, jsm, runId, dir, (manifest) => samplerCopies.take(manifest));
    owned.push(() => events.stop());
    owned.push(() => samplerCopies.drain());
    const givenUp = watchRunDeadLetters(nc, js, jsm, runId);
    owned.push(async () => givenUp.stop());
    // Hosts without model.dir fetch the base model from NATS (commands/serve.ts): put it there first.
    await publishModelDir(nc, runId, config.model.dir, { replicas: config.nats.replicas });
    const weightsKv = await openKv(nc, KV_BUCKETS.weights, { replicas: config.nats.replicas });

    // Resume: with the run's NATS store intact (the embedded server keeps it in the run dir) the sampler's
    // latest snapshot and the data cursor are still there; on an emptied one they come from the checkpoint,
    // and the run goes on from it (empty-store-resume.ts).
    let sourceState: PromptSourceState | undefined;
    /** The checkpoint manifest the run goes on from when the store was emptied (empty-store-resume.ts). */
    let emptied: RunEvent | null = null;
    const cursorKey = await CursorKey.open(samplerKv, runId);
    if (opts.resume) {
      const live = await kvGet<PromptSourceState>(samplerKv, `${runId}.cursor`, "Cursor").catch(() => null);
      await events.caughtUp();
      const manifest = await latestManifest(jsm, runId, events);
      if (!live && manifest) {
        emptied = manifest;
        await continueBatchSequence(jsm, Number(manifest.batchSeq ?? 0));
      }
      sourceState = live?.value ?? (await restoreFromManifest(manifest, runId, cursorKey, batchStore, samplerCopies)) ?? undefined;
      await events.publish("metric", { event: "resume", from: live ? "nats" : sourceState ? "checkpoint" : "start", requested: sourceState?.requested ?? 0, manifest: manifest ? { step: manifest.step, dir: manifest.dir, node: manifest.node } : null });
    }
    await samplerKv.delete(`${runId}.closed`).catch(() => undefined);
    const source = await PromptSource.create(config, sourceState);

    // The reconciler acts only while the lease is fresh (lease.ts: a controller cut off from NATS pauses).
    // Every call to an agent carries this controller's lease take, which the agents' fences order (fence.ts).
    const fencedSecurity = { ...security, client: { ...security.client, fencingToken: lease.fencingToken } };
    const cluster = await startCluster({ nc, config, dir, configJson: () => JSON.stringify(config), security: fencedSecurity, mayAct: () => lease.fresh, onEvent: (e) => {
      log.warn({ ...e }, `reconciler: ${e.event} ${e.actor}`);
      void events.publish("metric", { ...e }).catch(() => undefined);
    } });
    owned.push(() => cluster.close());
    // Superseded: stop placing at once (the reconciler would fight the controller that took over).
    lease.onLost(() => {
      log.error({ reason: lease.lostReason }, "this controller no longer holds the run: standing down");
      void cluster.close().catch(() => undefined);
    });
    const registry = cluster.registry;
    await lease.held(LEASE_WAIT_MS);
    // First the fences, then the leftovers: a placement or a stop an earlier controller still had on its way
    // cannot land after this controller has looked at what is running.
    const fences = await cluster.fenceAgents();
    for (const u of fences.unreachable) log.warn(u, "an agent could not be fenced: it did not answer");
    // What an agent wrote before it answered its Fence is in the bucket; the view the stop reads may trail it.
    if (fences.fenced.length && !(await registry.caughtUp(10_000))) {
      log.warn({ waitedMs: 10_000 }, "the registry view did not catch up with its bucket: an actor an earlier controller started just before the fences may be missed");
    }
    const leftovers = await cluster.stopLeftovers(["learner", "sampler", "rollout", ...(config.verifier.actors > 0 ? (["verifier"] as const) : [])]);
    if (leftovers.stopped.length) log.warn({ actors: leftovers.stopped.map((a) => `${a.name}@${a.node}`) }, "stopped the actors an earlier controller of this run left running");
    for (const u of leftovers.unreachable) log.warn(u, "an earlier controller's actor could not be stopped: its agent did not answer");
    // A second learner or sampler would share the run's consumers with the one that may still be running.
    const held = leftovers.unreachable.filter((u) => u.kind === "learner" || u.kind === "sampler");
    if (held.length) throw new Error(`an earlier controller of run '${runId}' left ${held.map((u) => `${u.actor} on ${u.node}`).join(", ")} running, and its agent did not answer a stop (${held[0].error}); stop it (or its agent) and resume again`);
    await lease.held(LEASE_WAIT_MS);
    await cluster.place("learner", 1, config.learner.maxRestarts);
    await cluster.place("sampler", 1, config.sampler.maxRestarts);
    if (config.verifier.actors > 0) await cluster.place("verifier", config.verifier.actors, config.verifier.maxRestarts);
    if (config.rollout.actors === 0) {
      // One per slot of the rollout agents up now (each actor's config carries the resolved count).
      config.rollout.actors = await cluster.rolloutSlots();
      if (config.rollout.actors === 0) throw new Error("rollout.actors is 0 (one per agent slot) but no live agent matches cluster.placement.rollout.nodeSelector");
      log.info({ actors: config.rollout.actors }, "rollout.actors 0: one per slot of the rollout agents");
      // The rollout stage's consumer is sized by the actor count: bring it to the count the actors will see.
      await provisionStage(jsm, config, "rollout");
    }
    await cluster.place("rollout", config.rollout.actors, config.rollout.maxRestarts);
    const running: RunningRun = {
      dir, config, registry, natsUrl: config.nats.url, nats,
      get agent(): NodeAgent {
        if (!cluster.agent) throw new Error('run.agent: cluster.agents is "remote": there is no in-process agent (use run.registry)');
        return cluster.agent;
      },
    };

    const learner = actorHandle(registry, LearnerServiceService, "learner", security.client);
    const sampler = actorHandle(registry, SamplerServiceService, "sampler", security.client);
    const rollout = actorHandle(registry, RolloutServiceService, "rollout", security.client);
    owned.push(async () => {
      learner.close();
      sampler.close();
      rollout.close();
    });
    // Waiting on the actors fails fast, naming the actor and its log, when one has given up (on any agent).
    const failed = () => cluster.failed();
    const upOrFailed = <T>(fn: () => Promise<T>) => async () => {
      lease.check();
      const f = failed();
      if (f) throw new ActorFailedError(`actor ${f.name} failed after ${f.restarts} restarts; its log: ${join(dir, "logs", `${f.name}.log`)}\n${logTail(join(dir, "logs", `${f.name}.log`))}`);
      return fn();
    };
    const startupMs = 180_000;
    await until("the learner", upOrFailed(() => learner.call.status({})), startupMs);
    await until("the sampler", upOrFailed(() => sampler.call.status({})), startupMs);
    await until(`${config.rollout.actors} rollout actors`, upOrFailed(async () => (await registry.resolve("rollout")).length >= config.rollout.actors), startupMs);
    await until("published weights", upOrFailed(async () => kvGet<WeightsRef>(weightsKv, runId, "WeightsRef")), startupMs);
    log.info({ dir, nats: config.nats.url }, "actors up");

    const evals: Array<EvalResult & { step: number }> = [];
    const evaluate = async (step: number) => {
      const r = await evaluateHeldOut(rollout, source, { maxNewTokens: config.eval.maxNewTokens, samples: config.eval.samples, temperature: config.rollout.temperature });
      evals.push({ ...r, step });
      await events.publish("eval", { step, ...r });
      return r;
    };
    const startStep = Number((await learner.call.status({})).step);
    const before = await evaluate(startStep);
    log.info({ accuracy: before.accuracy, step: startStep }, "held-out accuracy before training");

    const progress = opts.quiet ? null : new Progress(config.run.steps);
    const publishPrompt = async (n: number) => {
      const items = Array.from({ length: Math.max(0, n) }, () => source.next());
      // Into the ledger before the prompts go out: every uid the run asks for must reach a terminal state.
      if (items.length) await events.publish("ledger", { type: "requested", uids: items.map((x) => x.uid) }, `requested-${items[0].uid}`);
      for (const item of items) {
        const req: PromptRequest = {
          uid: item.uid, runId, task: config.task.kind, promptText: item.text, promptIds: Buffer.alloc(0), answer: item.answer,
          groupSize: config.rollout.groupSize, cursor: BigInt(item.cursor), requestedAt: new Date(),
        };
        await publishMessage(js, subjectFor("prompts", runId), "PromptRequest", req, { msgId: `prompt-${item.uid}` });
      }
      if (n > 0) await cursorKey.write(source.state());
    };

    // The loop: keep the sampler fed; in sync mode only while the learner is idle on the current step.
    let step = startStep;
    let lastEval = startStep;
    const deadline = config.run.timeoutS > 0 ? t0 + config.run.timeoutS * 1000 : Infinity;
    let lastRecord: Record<string, unknown> = {};
    let lastOnStep = -1;
    let lastTick: Record<string, unknown> = {};
    // Written by the background Status call too: the cast keeps TypeScript from narrowing it to null.
    let lastStatus = null as Awaited<ReturnType<typeof learner.call.status>> | null;
    // The learner may answer Status late during an update (a long onnxruntime run holds its event loop
    // between awaits), and it counts a batch consumed only once the weights of its update are published. In
    // sync mode the loop waits for that answer: prompts go out only when every batch is consumed, so never
    // during an update. In pipelined mode one call runs in the background and the loop goes on with the last
    // answer, reading how many batches wait for the learner from the server (learnerBacklog), which answers
    // during an update too.
    let statusCall: Promise<void> | null = null;
    let statusError: unknown = null;
    const refreshStatus = (): Promise<void> =>
      (statusCall ??= learner.call.status({}).then(
        (s) => void (lastStatus = s),
        (err: unknown) => {
          try {
            transient(err);
          } catch (fatal) {
            statusError = fatal;
          }
        },
      ).finally(() => void (statusCall = null)));
    const learnerDurable = `learner-${runId}`;
    /** Batches in the stream the learner has not started on: not yet delivered, or delivered and waiting behind the one in training. */
    const learnerBacklog = async (): Promise<number | null> => {
      const info = await jsm.consumers.info(STREAMS.batches.name, learnerDurable).catch(() => null);
      return info ? batchesWaiting(info) : null;
    };
    // run.maxGroups: a generation budget. Past it nothing more is requested, and the run ends once every
    // requested group is judged and every batch they filled has been trained (or dropped as stale).
    const budget = config.run.maxGroups > 0 ? config.run.maxGroups : Infinity;
    let lost: LostWithStore | null = null;
    while (step < config.run.steps) {
      lease.check();
      const f = failed();
      if (f) throw new ActorFailedError(`actor ${f.name} failed after ${f.restarts} restarts at step ${step}; its log: ${join(dir, "logs", `${f.name}.log`)}\n${logTail(join(dir, "logs", `${f.name}.log`))}${events.deadLetters.length ? `\n${events.describeDeadLetters()}` : ""}`);
      if (Date.now() > deadline) {
        // Say where the pipeline stood, so a stall can be located from the error alone.
        const where: string[] = [];
        for (const [stream, durable] of [[STREAMS.prompts.name, `rollout-${runId}`], [STREAMS.rollouts.name, `verifier-${runId}`], [STREAMS.verified.name, `sampler-${runId}`], [STREAMS.batches.name, `learner-${runId}`]]) {
          const info = await jsm.consumers.info(stream, durable).catch(() => null);
          where.push(`${durable}: ${info ? `${info.num_pending} pending, ${info.num_ack_pending} unacked, ${info.num_redelivered} redelivered` : "no consumer"}`);
        }
        // A dead letter is the likeliest reason a run stops making progress: name each one.
        const dead = events.describeDeadLetters();
        throw new Error(`run.timeoutS (${config.run.timeoutS} s) passed at step ${step}/${config.run.steps}; ${JSON.stringify(lastTick)}; ${where.join("; ")}${dead ? `; ${dead}` : ""}`);
      }
      // Cut off from NATS long enough that another controller could soon take the run: act on nothing until a
      // renewal lands (or the lease is found taken, and check() above stands this one down).
      if (!lease.fresh) {
        await sleep(250);
        continue;
      }
      // An actor being restarted by the agent is a pause, not an error (a FAILED one is caught above).
      const stats = await sampler.call.stats({}).catch(transient);
      if (!stats) {
        await sleep(250);
        continue;
      }
      const received = Number((stats.detail as { received?: number } | undefined)?.received ?? 0);
      if (emptied && !lost) {
        lost = lostWithStore(emptied, source.requested, { received, emitted: Number(stats.batchesEmitted) });
        log.warn({ step: emptied.step, promptsLost: lost.prompts, batchesShift: lost.batches }, "resumed on an emptied NATS store: what it held beyond the checkpoint is lost");
      }
      const resolved = received + (lost?.prompts ?? 0);
      const inFlight = Math.max(0, source.requested - resolved);
      // sync: generate -> filter -> update, so prompts go out only while the learner has consumed every
      // batch; pipelined: rollouts run ahead by at most maxOffPolicySteps batches. Never past run.steps.
      // A batch whose groups all went stale at the learner is consumed without an update: count consumed
      // batches, not steps, to know what is still ahead of the learner.
      const emitted = Number(stats.batchesEmitted) + (lost?.batches ?? 0);
      const consumed = Number((lastStatus?.status?.counters as { batchesConsumed?: number } | undefined)?.batchesConsumed ?? step);
      // Pipelined: the server's count too (batchesAhead says why both).
      const backlog = config.run.mode === "pipelined" ? await learnerBacklog() : null;
      const ahead = batchesAhead(emitted, consumed, backlog);
      const mayFeed =
        step + ahead < config.run.steps &&
        (config.run.mode === "pipelined" ? ahead < Math.max(1, config.run.maxOffPolicySteps) : ahead <= 0);
      lastTick = { emitted, consumed, inFlight, requested: source.requested, mayFeed };
      if (mayFeed) {
        const refill = await sampler.call.refill({ inFlight }).catch(transient);
        await lease.held(LEASE_WAIT_MS);
        await publishPrompt(Math.min(refill?.prompts ?? 0, budget - source.requested));
      }
      if (config.run.mode === "sync") await refreshStatus();
      else void refreshStatus();
      if (statusError) throw statusError;
      const status: typeof lastStatus = lastStatus;
      if (status) step = Number(status.step);
      if (source.requested >= budget && resolved >= source.requested && status && batchesSettled(status, emitted, config.sampler.batchSize)) break;
      lastRecord = events.lastUpdate() ?? lastRecord;
      progress?.update({
        step,
        reward: Number(lastRecord.meanReward ?? 0),
        accuracy: evals[evals.length - 1]?.accuracy ?? null,
        kept: stats.acceptanceRate || null,
        tokensPerSecond: tokensPerSecond(events.records, t0),
        lag: Number(lastRecord.policyLag ?? 0),
        algorithm: String(lastRecord.algorithm ?? config.learner.algorithm.name),
      });
      if (opts.onStep && step !== lastOnStep) {
        lastOnStep = step;
        await opts.onStep(step, running);
      }
      if (config.eval.every > 0 && step - lastEval >= config.eval.every && step < config.run.steps) {
        lastEval = step;
        await evaluate(step);
      }
      await sleep(150);
    }
    progress?.stop();
    // The learner reports a step as soon as its optimizer moved; the final evaluation must see the weights
    // of that step, so wait until they are published.
    await until(`weights of step ${step}`, async () => Number((await kvGet<WeightsRef>(weightsKv, runId, "WeightsRef"))?.value.version ?? -1) >= step, 60_000);
    const after = await evaluate(step);
    log.info({ before: before.accuracy, after: after.accuracy }, "held-out accuracy after training");

    // Wind down so every prompt is accounted for: stop the rollout actors (they finish the generation in
    // hand), cancel the prompts nobody took, let the verifier and sampler drain, then close the run.
    await lease.held(LEASE_WAIT_MS);
    for (const u of await cluster.stopKind("rollout")) log.warn(u, "could not stop a rollout actor: its agent did not answer (its host lost?)");
    // The prompts nobody took end in the ledger as cancelled: each is read, then deleted (leftover-prompts.ts).
    const { uids: unclaimed } = await takeLeftoverPrompts(jsm, subjectFor("prompts", runId));
    if (unclaimed.length) await events.publish("ledger", { type: "dropped", reason: "cancelled", uids: unclaimed }, `cancelled-${runId}-${unclaimed[0]}`);
    await until(
      "the verifier and sampler to drain",
      async () => {
        for (const [stream, durable] of [[STREAMS.rollouts.name, `verifier-${runId}`], [STREAMS.verified.name, `sampler-${runId}`]]) {
          const info = await jsm.consumers.info(stream, durable);
          if (info.num_pending + info.num_ack_pending > 0) return false;
        }
        return true;
      },
      120_000,
    );
    await lease.held(LEASE_WAIT_MS);
    await samplerKv.put(`${runId}.closed`, new TextEncoder().encode(new Date().toISOString()));
    await sleep(500);
    // The sampler reports the groups it still held (unused) after the close: give its records a moment to
    // arrive before the ledger is read (a uid still without a terminal state after that is lost).
    const settleEnd = Date.now() + 10_000;
    do {
      await events.caughtUp();
      if (events.ledger.report(0).lost === 0) break;
      await sleep(250);
    } while (Date.now() < settleEnd);
    // An actor may be restarting right now (a crash during wind-down): wait for it, as the loop does.
    const finalStats = await until("the sampler's final stats", () => sampler.call.stats({}).catch(transient), 120_000);
    const learnerStatus = await until("the learner's final status", () => learner.call.status({}).catch(transient), 120_000);
    const summary = buildSummary({
      config,
      requested: source.requested,
      sampler: finalStats,
      learner: learnerStatus,
      restarts: cluster.actors().reduce((n, a) => n + a.restarts, 0),
      actors: cluster.actors(),
      evals,
      metrics: events.records,
      judged: events.judged,
      ledger: events.ledger.report(),
      wallSeconds: (Date.now() - t0) / 1000,
      dir,
    });
    await events.publish("metric", { event: "summary", step, lost: summary.lost, duplicates: summary.duplicates, ledger: { ...summary.ledger, lostUids: undefined, duplicateUids: undefined } });
    await events.caughtUp();
    return summary;
  } finally {
    await cleanup();
  }
}

/**
 * Batches waiting for the learner, from its consumer's server-side state: not yet delivered, plus those
 * delivered and unacknowledged beyond the one in training (the learner acks a batch after its update and
 * may hold a few prefetched). 0 when the learner is idle or training the last one there is.
 */
export function batchesWaiting(info: { num_pending: number; num_ack_pending: number }): number {
  return info.num_pending + Math.max(0, info.num_ack_pending - 1);
}

/**
 * Batches emitted that the learner has not finished, for the feeding decision. Each count can only be too high:
 * - the learner's own (emitted - consumed) while its Status answer is late, which it is during an update (a
 *   long onnxruntime run holds its event loop);
 * - the server's (batchesWaiting, null when it did not answer) when an ack of the learner was lost, as a NATS
 *   restart can do: the batch stays unacknowledged for the consumer's 30-minute ack wait though it was
 *   trained, and a feed waiting for it stalled the run (the long chaos NATS-restart run of 2026-12-06: emitted
 *   11, consumed 11, two lost acks, no prompt fed until run.timeoutS).
 * So the smaller one.
 */
export function batchesAhead(emitted: number, consumed: number, serverBacklog: number | null): number {
  const own = Math.max(0, emitted - consumed);
  return serverBacklog === null ? own : Math.min(own, serverBacklog);
}

/**
 * Whether the learner has finished with every batch the sampler emitted: each batch holds exactly
 * `batchSize` groups, and a group ends up trained, dropped as stale, or dropped as a duplicate; the
 * trained count moves only after the update, so equality means no update is in progress.
 */
export function batchesSettled(status: { status?: { counters?: unknown } }, emitted: number, batchSize: number): boolean {
  // A dead-lettered batch (poison) is settled too: its groups are dropped, the learner moved past it.
  const c = (status.status?.counters ?? {}) as { trainedGroups?: number; stale?: number; duplicates?: number; deadLetteredGroups?: number };
  return (c.trainedGroups ?? 0) + (c.stale ?? 0) + (c.duplicates ?? 0) + (c.deadLetteredGroups ?? 0) >= emitted * batchSize;
}

/** Errors that mean "an actor is restarting": swallowed (null) so the loop tries again. */
function transient(err: unknown): null {
  const code = (err as { code?: number }).code;
  if (err instanceof ActorNotFoundError || code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED) return null;
  throw err;
}

function tokensPerSecond(records: readonly MetricRecord[], t0: number): number {
  const tokens = records.filter((r) => r.event === "update").reduce((n, r) => n + Number(r.responseTokens ?? 0), 0);
  return tokens / Math.max(1e-3, (Date.now() - t0) / 1000);
}

/**
 * The newest checkpoint manifest: from NATS (the learner's `checkpoint` event), else from the controller's own
 * copy of the run's events (a NATS started afresh). The checkpoint itself stays on the learner's host.
 */
async function latestManifest(jsm: JetStreamManager, runId: string, events: RunEvents): Promise<RunEvent | null> {
  const live = await lastEvent(jsm, runId, "checkpoint").catch(() => null);
  return live?.body ?? events.lastCheckpoint;
}

/** Puts the manifest's sampler state back from the controller's copy (restore-sampler.ts) and returns the data cursor saved with it. */
async function restoreFromManifest(
  manifest: RunEvent | null,
  runId: string,
  cursorKey: CursorKey,
  store: Awaited<ReturnType<typeof openObjectStore>>,
  copies: SamplerStateCopies,
): Promise<PromptSourceState | null> {
  if (!manifest) return null;
  const sampler = await restoreSamplerState(manifest, runId, store, copies);
  if (sampler.restored) log.info({ step: manifest.step, parts: sampler.parts }, "sampler state restored from the checkpoint");
  else if (sampler.why !== "none") log.warn({ step: manifest.step, bytes: manifest.samplerBytes, why: sampler.why }, "the checkpoint's sampler state was not restored; the sampler starts afresh");
  const cursor = (manifest.cursor as PromptSourceState | null) ?? null;
  if (cursor) await cursorKey.write(cursor);
  return cursor;
}

export function readSummary(dir: string): Summary {
  return JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as Summary;
}
