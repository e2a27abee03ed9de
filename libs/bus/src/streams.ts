// Creating (idempotently) the streams and consumers the data plane runs on.
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, jetstreamManager as natsJetstreamManager, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { nanos } from "@nats-io/nats-core";
import { STREAMS, type StreamSpec } from "./subjects.js";
import { backedOff } from "./backoff.js";

export interface StreamOptions {
  /** JetStream replicas (3 in a clustered deployment). */
  replicas?: number;
  /** File storage survives a server restart; memory is for throwaway tests. */
  storage?: "file" | "memory";
  /** Window in which a repeated message id is dropped as a duplicate (idempotent publish). */
  duplicateWindowMs?: number;
  maxMsgSize?: number;
  /** Bounds per stream name (e.g. LSPO_BATCHES, LSPO_DLQ); 0 or absent = unbounded. */
  limits?: Record<string, StreamLimits>;
}

export interface StreamLimits {
  maxAgeMs?: number;
  maxBytes?: number;
}

/** The bounds `bus.*` gives the kept streams (work queues empty themselves as they are acked). */
export function streamLimitsOf(bus: { verifiedMaxAgeS: number; verifiedMaxBytes: number; batchesMaxAgeS: number; batchesMaxBytes: number; deadLettersMaxAgeS: number; deadLettersMaxBytes: number; eventsMaxAgeS: number; eventsMaxBytes: number }): Record<string, StreamLimits> {
  return {
    [STREAMS.verified.name]: { maxAgeMs: bus.verifiedMaxAgeS * 1000, maxBytes: bus.verifiedMaxBytes },
    [STREAMS.batches.name]: { maxAgeMs: bus.batchesMaxAgeS * 1000, maxBytes: bus.batchesMaxBytes },
    [STREAMS.deadLetters.name]: { maxAgeMs: bus.deadLettersMaxAgeS * 1000, maxBytes: bus.deadLettersMaxBytes },
    [STREAMS.events.name]: { maxAgeMs: bus.eventsMaxAgeS * 1000, maxBytes: bus.eventsMaxBytes },
  };
}

export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, opts: StreamOptions = {}): Promise<void> {
  const config = {
    name: spec.name,
    subjects: [...spec.subjects],
    description: spec.description,
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: opts.storage === "memory" ? StorageType.Memory : StorageType.File,
    num_replicas: opts.replicas ?? 1,
    duplicate_window: nanos(opts.duplicateWindowMs ?? 120_000),
    ...(opts.maxMsgSize ? { max_msg_size: opts.maxMsgSize } : {}),
    ...(spec.allowDirect ? { allow_direct: true } : {}),
    // Limits drop the oldest messages first (discard old): new work is never refused for old work's sake.
    ...(opts.limits?.[spec.name]?.maxAgeMs ? { max_age: nanos(opts.limits[spec.name].maxAgeMs!) } : {}),
    ...(opts.limits?.[spec.name]?.maxBytes ? { max_bytes: opts.limits[spec.name].maxBytes } : {}),
  };
  // Creating an R3 stream waits for the cluster to agree; on a loaded machine or during a leader change
  // the API request may time out although the stream was made. Each try starts from info, so a retry
  // after such a timeout updates what the first try created. Only timeouts are retried: a refused
  // config fails at once with the server's reason.
  // A stream that already has these settings is left alone: under the shipped per-identity permissions only
  // the controller may create or change streams, and every other component only binds.
  await retryOnTimeout(async () => {
    let existing: Record<string, unknown>;
    try {
      existing = (await jsm.streams.info(spec.name)).config as unknown as Record<string, unknown>;
    } catch (err) {
      if ((err as Error).name === "StreamNotFoundError" || /stream not found/i.test((err as Error).message)) {
        await createOrAwait(`stream ${spec.name}`, () => jsm.streams.add(config), () => jsm.streams.info(spec.name));
        return;
      }
      throw err;
    }
    if (existing.retention !== config.retention) {
      // JetStream cannot change a stream's retention in place (LSPO_VERIFIED became a kept stream).
      throw new Error(`stream ${spec.name} exists with retention '${String(existing.retention)}', this version needs '${config.retention}' (${spec.description}); JetStream cannot change retention in place: delete the stream once it is drained (\`nats stream rm ${spec.name}\`) and start again`);
    }
    if (differs(existing, config)) await jsm.streams.update(spec.name, config);
  }, `stream ${spec.name}`);
}

/** Whether `existing` (as the server reports it) differs from `wanted` in any field `wanted` sets. */
function differs(existing: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  return Object.entries(wanted).some(([k, v]) => JSON.stringify(existing[k] ?? null) !== JSON.stringify(v));
}

export const isPermissionError = (err: unknown) => /permission/i.test((err as Error)?.message ?? "") || (err as Error)?.name === "PermissionViolationError";

/** How long a component that may not create a stream or consumer waits for the controller to make it. */
const AWAIT_CREATOR_MS = 120_000;

/**
 * Creates something; where this identity may not (a permissions violation), waits for the one that may
 * (the controller) to create it, and fails after AWAIT_CREATOR_MS naming what it waited for.
 */
export async function createOrAwait(what: string, create: () => Promise<unknown>, exists: () => Promise<unknown>): Promise<void> {
  try {
    await create();
    return;
  } catch (err) {
    if (!isPermissionError(err)) throw err;
  }
  const deadline = Date.now() + AWAIT_CREATOR_MS;
  for (;;) {
    try {
      await exists();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`${what} does not exist and this NATS identity may not create it; the controller creates it (waited ${AWAIT_CREATOR_MS / 1000} s)`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const API_RETRY_MS = 30_000;

/** Retries `fn` while JetStream's API times out or has no responders (a leader election), up to 30 s. */
export async function retryOnTimeout<T>(fn: () => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + API_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      // nats.js 3 says "jetstream is not enabled" (JetStreamNotEnabled) where a server has none yet.
      const transient = (err as Error).name === "TimeoutError" || (err as Error).name === "JetStreamNotEnabled" || /timeout|no responders|jetstream (is )?not (enabled|available)/i.test((err as Error).message);
      if (!transient) throw err;
      if (Date.now() > deadline) throw new Error(`${what}: JetStream did not answer for ${API_RETRY_MS / 1000} s (${(err as Error).message})`);
      await backedOff(attempt, undefined, 100); // a setup call waits longer at first than a read or a publish does
    }
  }
}

/**
 * A JetStream manager. Making one asks the server for the account's info (nats.js checks that JetStream is
 * there), a request that times out on a loaded cluster or during a leader election like any setup call: it is
 * retried as they are (retryOnTimeout), where a bare "timeout" used to end a controller's start.
 */
export function jetstreamManager(nc: NatsConnection): Promise<JetStreamManager> {
  return retryOnTimeout(() => natsJetstreamManager(nc), "JetStream's account info");
}

export async function ensureStreams(jsm: JetStreamManager, opts: StreamOptions = {}): Promise<void> {
  for (const spec of Object.values(STREAMS)) await ensureStream(jsm, spec, opts);
}

export interface ConsumerOptions {
  /** How long a delivered message may stay unacknowledged before it is redelivered. */
  ackWaitMs?: number;
  /** Deliveries before the server gives up on a message (-1 = unlimited; runs use bus.maxDeliver). */
  maxDeliver?: number;
  filterSubject?: string;
  maxAckPending?: number;
  /** Deliver each message's headers without its payload (the sampler judges verified groups by their summary header). */
  headersOnly?: boolean;
}

export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  opts: ConsumerOptions = {},
): Promise<void> {
  const config = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_deliver: opts.maxDeliver ?? -1,
    ...(opts.filterSubject ? { filter_subject: opts.filterSubject } : {}),
    ...(opts.maxAckPending ? { max_ack_pending: opts.maxAckPending } : {}),
    ...(opts.headersOnly ? { headers_only: true } : {}),
  };
  // As for streams: a timed-out create may have landed, so each try starts from info.
  await retryOnTimeout(async () => {
    let existing: Record<string, unknown>;
    try {
      existing = (await jsm.consumers.info(stream, durable)).config as unknown as Record<string, unknown>;
    } catch (err) {
      if (/consumer not found/i.test((err as Error).message) || (err as Error).name === "ConsumerNotFoundError") {
        await createOrAwait(`consumer ${durable} on ${stream}`, () => jsm.consumers.add(stream, config), () => jsm.consumers.info(stream, durable));
        return;
      }
      throw err;
    }
    // The same settings: bound as is (nothing written, so a component that may not manage consumers binds).
    const { durable_name: _name, deliver_policy: _policy, ...changeable } = config;
    if (differs(existing, changeable)) await jsm.consumers.update(stream, durable, changeable);
  }, `consumer ${durable} on ${stream}`);
}

/**
 * The first message on `subject` at or after stream sequence `seq`, or null when there is none (a stream
 * shared by several runs holds other subjects in between). For readers that walk one subject by sequence.
 */
export async function nextOnSubject(jsm: JetStreamManager, stream: string, subject: string, seq: number): Promise<StoredMsg | null> {
  // next_by_subj is in the server's message-get API (2.9+); this client's MsgRequest type does not list it.
  return jsm.streams.getMessage(stream, { seq, next_by_subj: subject } as unknown as { seq: number }).catch((err: Error) => {
    if (/no message found|not found/i.test(err.message)) return null;
    throw err;
  });
}
