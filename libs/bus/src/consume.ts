// Typed consumption of a JetStream durable consumer as an async iterable. Every payload is decoded and
// validated before it reaches the caller; one that fails is dead-lettered (with the reason), terminated so
// it is never redelivered, counted, and skipped: a malformed message never crashes a consumer.
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/nats-core";
import { decodeEnvelope } from "./codec.js";
import { DecodeError } from "./errors.js";
import { VALIDATORS, type Validator } from "./messages.js";
import { publishMessage } from "./publish.js";
import { publishEvent } from "./events.js";
import { settledWithin } from "./settled.js";

/** An ack to send later (Delivery.deferAck, sendAck). */
export interface DeferredAck {
  readonly reply: string;
}

const ACK = new TextEncoder().encode("+ACK");

/** Acks a deferred delivery: JetStream's ack protocol is a "+ACK" published to the delivery's reply subject. */
export function sendAck(nc: NatsConnection, a: DeferredAck): void {
  nc.publish(a.reply, ACK);
}

/** One consumed message. `ack`/`nak`/`working`/`term` are methods: call them on the delivery (`d.ack()`). */
export interface Delivery<T> {
  readonly body: T;
  readonly subject: string;
  /** Stream sequence: stable across redeliveries. */
  readonly seq: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  ack(): void;
  /**
   * What acking this delivery later takes (sendAck), holding nothing of the message but its reply subject:
   * a consumer that holds its acks (the sampler, until a snapshot covers them) must not hold every
   * payload with them.
   */
  deferAck(): DeferredAck;
  /** Redeliver (after `delayMs`). */
  nak(delayMs?: number): void;
  /** Extend the ack deadline while still working (long generations). */
  working(): void;
  /** Never redeliver. */
  term(): void;
  /**
   * Moves the message to the dead-letter stream with `reason` (and the uids it carried) and terminates it.
   * `deliveries` (default: this delivery's count) is the tries the letter reports, for a consumer that
   * counts its own.
   */
  deadLetter(reason: string, extra?: { uids?: string[]; consumer?: string; deliveries?: number }): Promise<void>;
}

export interface ConsumeOptions {
  stream: string;
  durable: string;
  /** Envelope kind expected on this consumer. */
  kind: string;
  /** Extra checks beyond the kind's structural validator (e.g. token ids within the vocabulary). */
  validate?: Validator;
  maxBytes?: number;
  /** Messages pulled per batch. */
  batch?: number;
  /**
   * For a headers-only consumer: the body is read from the message's headers by this parser (which throws
   * a DecodeError naming what is wrong), then checked by `kind`'s validator and `validate`.
   */
  fromHeaders?: (h: MsgHdrs | undefined) => unknown;
  /** Called for every rejected payload (after it was dead-lettered). */
  onReject?: (reason: string, failure: string, msg: { subject: string; seq: number }) => void;
}

export interface Subscription<T> extends AsyncIterable<Delivery<T>> {
  /** Ends the subscription: a pending or later next() is done, and the messages the client had pulled but
   *  not handed out go back to the stream (nak'd) at once. Deliveries already handed out stay the caller's. */
  stop(): Promise<void>;
  readonly rejected: number;
}

/** A dead letter: what was refused, where it came from, and why. */
export interface DeadLetter {
  stream: string;
  subject: string;
  seq: number;
  kind: string;
  failure: string;
  reason: string;
  /** The first 64 KB of the original payload, for inspection (empty from a headers-only consumer: the
   *  payload stays on its stream, at `seq`). */
  payload: Uint8Array;
  /** The message's headers, when it had any. */
  headers?: Record<string, string>;
  at: Date;
  /** The durable consumer that gave up on it and the deliveries it had (absent for a refused payload's first look). */
  consumer?: string;
  deliveries?: number;
  /** Prompt uids the message carried, when it could be decoded: the run's ledger drops them as dead-lettered. */
  uids?: string[];
}

/**
 * A delivery as a class: one allocation per message, methods on the prototype, and the JetStream
 * metadata (parsed from the reply subject) read only when asked. Building four closures and parsing the
 * metadata for every message cost as much as decoding a 1 KB payload.
 */
class JsDelivery<T> implements Delivery<T> {
  constructor(
    readonly body: T,
    private readonly msg: JsMsg,
    private readonly js: JetStreamClient,
    private readonly opts: ConsumeOptions,
  ) {}
  get subject(): string {
    return this.msg.subject;
  }
  get seq(): number {
    return this.msg.seq;
  }
  get deliveryCount(): number {
    return this.msg.info.deliveryCount;
  }
  ack(): void {
    this.msg.ack();
  }
  deferAck(): DeferredAck {
    // nats.js keeps the ack subject on the message's `reply`, which its public JsMsg type does not list; a
    // client without it fails here, loudly, rather than leave messages unacked.
    const reply = (this.msg as unknown as { reply?: string }).reply;
    if (!reply) throw new Error(`deferAck: message ${this.msg.seq} of ${this.opts.stream} has no reply subject to ack on`);
    return { reply };
  }
  nak(delayMs?: number): void {
    this.msg.nak(delayMs);
  }
  working(): void {
    this.msg.working();
  }
  term(): void {
    // Without a reason: servers before 2.10 ignore `+TERM <reason>` and redeliver (see deadLetter()).
    this.msg.term();
  }
  deadLetter(reason: string, extra: { uids?: string[]; consumer?: string; deliveries?: number } = {}): Promise<void> {
    return deadLetter(this.js, this.msg, {
      stream: this.opts.stream, kind: this.opts.kind, failure: "processing", reason,
      consumer: extra.consumer ?? this.opts.durable, deliveries: extra.deliveries ?? this.deliveryCount, ...(extra.uids ? { uids: extra.uids } : {}),
    });
  }
}

export function deadLetterSubject(stream: string): string {
  return `lspo.dlq.${stream}`;
}

/**
 * Moves a refused message to the dead-letter stream (with the reason and the first 64 KB of the payload,
 * message id `dlq-<stream>-<seq>` so a repeat is stored once) and terminates it so it is never redelivered.
 * For consumers that read a stream without `consume()` (the learner's ordered batch reader).
 */
export async function deadLetter(js: JetStreamClient, m: JsMsg, what: DeadLetterCause): Promise<void> {
  await publishDeadLetter(js, m, what);
  // A bare TERM: servers before 2.10 do not parse `+TERM <reason>` and leave the message pending, so it
  // would come back after every ack wait. The reason is in the dead letter.
  m.term();
}

/** What a dead letter says of why a message was given up on. */
export interface DeadLetterCause {
  stream: string;
  kind: string;
  failure: string;
  reason: string;
  consumer?: string;
  deliveries?: number;
  uids?: string[];
}

/**
 * The letter and the ledger's record of a message given up on, without terminating any delivery of it: for a
 * message read from the stream rather than delivered (the sampler judging its unacked tail again), whose
 * delivery the reader acks when it comes back.
 */
export async function publishDeadLetter(
  js: JetStreamClient,
  m: { readonly subject: string; readonly seq: number; readonly data: Uint8Array; readonly headers?: MsgHdrs },
  what: DeadLetterCause,
): Promise<void> {
  // A headers-only delivery carries no payload: the letter takes it from the stream (which may not allow
  // direct gets or may not answer: then the letter names the sequence, where the payload stays).
  let payload = m.data;
  if (payload.byteLength === 0 && m.headers) {
    payload = await js.jetstreamManager(false).then((jsm) => jsm.direct.getMessage(what.stream, { seq: m.seq })).then((s) => s?.data ?? payload, () => payload);
  }
  const letter: DeadLetter = { ...what, subject: m.subject, seq: m.seq, payload: payload.subarray(0, 65536), at: new Date(), ...(m.headers ? { headers: headersOf(m.headers) } : {}) };
  try {
    await publishMessage(js, deadLetterSubject(what.stream), "DeadLetter", letter, { msgId: `dlq-${what.stream}-${m.seq}` });
  } catch {
    // The dead-letter stream being unavailable must not block the data plane; the caller's count records it.
  }
  // The run's ledger hears of it too (its uids, when known, end as dropped "dead-letter"), and the controller
  // names the message and the reason. The run is the subject's last token (`lspo.<area>.<run>`).
  const run = /^lspo\.[a-z]+\.([A-Za-z0-9_-]+)$/.exec(m.subject)?.[1];
  if (run) {
    await publishEvent(js, run, "ledger", {
      type: "dropped", reason: "dead-letter", uids: what.uids ?? [], stream: what.stream, subject: m.subject, seq: m.seq, kind: what.kind,
      failure: what.failure, error: what.reason, consumer: what.consumer ?? null, deliveries: what.deliveries ?? null,
    }, `dlq-${what.stream}-${m.seq}`).catch(() => undefined);
  }
}

function headersOf(h: MsgHdrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of h.keys()) out[k] = h.get(k).slice(0, 65536);
  return out;
}

/**
 * A payload as consume() delivers it: decoded, checked by its kind's validator and `opts.validate`; or why
 * not. For a reader that gets messages outside consume() (the sampler re-reading its unacked tail).
 */
export function readPayload<T>(data: Uint8Array, opts: Pick<ConsumeOptions, "kind" | "maxBytes" | "validate" | "fromHeaders">, headers?: MsgHdrs): { body: T } | { failure: string; reason: string } {
  try {
    const body = opts.fromHeaders ? opts.fromHeaders(headers) : decodeEnvelope(data, opts.kind, opts.maxBytes).body;
    const problem = VALIDATORS[opts.kind]?.(body) ?? null;
    if (problem) throw new DecodeError("invalid", problem);
    const extra = opts.validate?.(body) ?? null;
    if (extra) throw new DecodeError("invalid", extra);
    return { body: body as T };
  } catch (err) {
    return { failure: err instanceof DecodeError ? err.failure : "invalid", reason: (err as Error).message };
  }
}

/** How long stop() may take: nats.js handing out the messages it holds, then the purge of dead pulls. */
const STOP_DRAIN_MS = 5000;
/** How long stop() waits for the purge of dead pulls (a consumer info request: milliseconds when answered). */
const PURGE_MS = 2000;

export async function consume<T>(js: JetStreamClient, opts: ConsumeOptions): Promise<Subscription<T>> {
  const consumer = await js.consumers.get(opts.stream, opts.durable);
  const messages = await consumer.consume({ max_messages: opts.batch ?? 16 });
  let rejected = 0;

  async function reject(m: JsMsg, failure: string, reason: string): Promise<void> {
    rejected++;
    await deadLetter(js, m, { stream: opts.stream, kind: opts.kind, failure, reason });
    opts.onReject?.(reason, failure, { subject: m.subject, seq: m.seq });
  }

  let stopping = false;
  /** Pulled, never handed out, not yet given back (stop() naks them once nats.js's pull has ended). */
  const held: JsMsg[] = [];
  /** Set once stop() has given back what it held: a message nats.js hands out after that goes back at once. */
  let givenBack = false;
  const giveBack = (m: JsMsg): boolean => {
    try {
      m.nak();
      return true;
    } catch {
      return false; // the connection is gone: the message comes back after its ack wait
    }
  };
  async function* iterate(): AsyncGenerator<Delivery<T>> {
    for await (const m of messages) {
      const read = readPayload<T>(m.data, opts, m.headers);
      if ("failure" in read) {
        await reject(m, read.failure, read.reason);
        continue;
      }
      // Pulled from the server before stop() but handed to nobody: stop() gives it back (a stopping rollout
      // actor would otherwise hold up to a pull's worth of prompts for the ack wait).
      if (stopping) {
        if (givenBack) giveBack(m);
        else held.push(m);
        continue;
      }
      yield new JsDelivery<T>(read.body, m, js, opts);
    }
  }

  const iterator = iterate();
  return {
    [Symbol.asyncIterator]: () => iterator,
    async stop() {
      if (stopping) return;
      stopping = true;
      // Ends the pull: nats.js hands out what it already holds, then ends. Reading on to that end collects
      // those (a next() the caller has pending runs first and resolves done). close() is not used: it waits
      // for the reader, and the reader here is this drain. The bound keeps a stop from hanging on a client
      // that never ends the iterator.
      messages.stop();
      const deadline = Date.now() + STOP_DRAIN_MS;
      await settledWithin(iterator.next(), STOP_DRAIN_MS);
      // Nak'd only once nats.js has ended its pull: nak'd while it was still handing them out (nats-server
      // 2.9.10), some went to this client's own pull and were lost to it until the ack wait, and others came
      // back twice. Past the bound, whatever nats.js still hands out is nak'd as it comes.
      //
      // Ending the pull leaves this client's last pull request waiting on the server (nats.js sends its refill
      // as the drain reaches it, after the unsubscribe). nats-server before 2.10.14 (nats-io/nats-server#5305;
      // Debian's 2.9.10 runs the tests, the images 2.10.24) mishandles a redelivery that finds only such dead
      // requests waiting: it drops the message from its redelivery queue (back only after the ack wait) and
      // steps its cursor back, delivering the last new message a second time. A consumer info request makes
      // the server purge requests nobody listens to; sent on this connection after the unsubscribe and the
      // refill, it sees ours, so the naks below find no dead request of ours. A server that does not answer
      // leaves it undone (the naks then cannot land either) after PURGE_MS at most, within the drain's bound.
      await settledWithin(consumer.info(), Math.min(PURGE_MS, deadline - Date.now()));
      givenBack = true;
      for (const m of held.splice(0)) if (!giveBack(m)) break;
    },
    get rejected() {
      return rejected;
    },
  };
}

const LINGER_EXPIRED = Symbol("linger-expired");

/**
 * Groups an async stream into arrays of up to `max` items: waits for the first item, then takes whatever
 * else arrives within `lingerMs`. An item still in flight when the linger expires opens the next array,
 * so nothing is dropped. (Rollout actors batch prompts this way: a fuller batch, no extra latency.)
 *
 * A caller that leaves the loop (break) while an item is in flight never sees it: `onLeft` gets it when it
 * arrives, to give it back (a rollout actor's drain naks it; otherwise it waited for its ack wait).
 */
export async function* inBatches<T>(source: AsyncIterable<T>, max: number, lingerMs: number, onLeft?: (item: T) => void): AsyncGenerator<T[]> {
  const it = source[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | null = null;
  try {
    for (;;) {
      const first: IteratorResult<T> = await (pending ?? it.next());
      pending = null;
      if (first.done) return;
      const batch = [first.value];
      const deadline = Date.now() + lingerMs;
      while (batch.length < max) {
        pending = it.next();
        const left = deadline - Date.now();
        const r = left <= 0 ? LINGER_EXPIRED : await Promise.race([pending, new Promise<typeof LINGER_EXPIRED>((res) => setTimeout(() => res(LINGER_EXPIRED), left))]);
        if (r === LINGER_EXPIRED) break;
        pending = null;
        if (r.done) {
          yield batch;
          return;
        }
        batch.push(r.value);
      }
      yield batch;
    }
  } finally {
    const inFlight = pending;
    if (inFlight) void inFlight.then((r) => (r.done ? undefined : onLeft?.(r.value)), () => undefined);
  }
}

/**
 * Runs `work` for one delivery with bounded retries (bus.maxDeliver). A failure before the last delivery is
 * rethrown: the caller's own recovery runs (a service exits and is restarted from its snapshot) and the
 * server redelivers. A failure on the last delivery dead-letters the message with the error text, the
 * stream, the consumer and the deliveries, terminates it, and returns "dead-lettered" so the loop goes on:
 * a well-formed message that always breaks processing stops here instead of crash-looping its consumer.
 */
export async function processOrDeadLetter<T>(
  d: Delivery<T>,
  maxDeliver: number,
  work: () => Promise<void>,
  uidsOf: (body: T) => string[] = () => [],
): Promise<"done" | "dead-lettered"> {
  try {
    await work();
    return "done";
  } catch (err) {
    if (maxDeliver <= 0 || d.deliveryCount < maxDeliver) throw err;
    let uids: string[] = [];
    try {
      uids = uidsOf(d.body);
    } catch {
      // the letter still goes, without uids
    }
    await d.deadLetter(`processing failed on delivery ${d.deliveryCount} of ${maxDeliver}: ${(err as Error).message ?? String(err)}`, { uids });
    return "dead-lettered";
  }
}
