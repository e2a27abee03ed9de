// Typed, idempotent publishing: the message id makes JetStream drop a retried publish inside the
// stream's duplicate window, so a retry never duplicates a group downstream. JetStream deduplicates per
// stream, and several runs share a stream (one subject each) with uids that may coincide (the same seed
// and data), so the id on the wire is scoped by the subject: one run's message is never dropped as a
// duplicate of another run's.
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { backedOff } from "./backoff.js";
import { isConnectionGone } from "./errors.js";
import { leaseEnvelope } from "./lease.js";

export interface PublishOptions {
  /** Idempotency key (e.g. the prompt uid + stage). */
  msgId?: string;
  /** Retries on timeouts/no-responders (e.g. while NATS restarts), with backoff. */
  retries?: number;
  /** NATS headers to send with the message (e.g. a verified group's summary: group-summary.ts). */
  headers?: Record<string, string>;
  /**
   * Retries go on only while this holds. A rollout actor passes `() => !ctx.stopping`: a publish that fails
   * during its drain (NATS away) ends after the attempt under way, not after every retry, and the prompts it
   * was publishing for, never acked, are redelivered, as after a crash.
   */
  retryWhile?: () => boolean;
}

export interface Published extends PubAck {
  bytes: number;
}

export async function publishMessage<T>(
  js: JetStreamClient,
  subject: string,
  kind: string,
  body: T,
  opts: PublishOptions = {},
): Promise<Published> {
  const lease = leaseEnvelope(kind, body);
  const bytes = lease.bytes.byteLength;
  const retries = opts.retries ?? 20;
  let h: ReturnType<typeof natsHeaders> | undefined;
  if (opts.headers) {
    h = natsHeaders();
    for (const [k, v] of Object.entries(opts.headers)) h.set(k, v);
  }
  const options = opts.msgId || h ? { ...(opts.msgId ? { msgID: scopedMsgId(subject, opts.msgId) } : {}), ...(h ? { headers: h } : {}) } : undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const ack = await js.publish(subject, lease.bytes, options);
      lease.release(); // acknowledged: the client holds no reference to the bytes any more
      return Object.assign(ack, { bytes });
    } catch (err) {
      // Safe to retry only because the message id deduplicates; without one a retry could double-publish. A
      // closed or draining connection never publishes again: retrying it would only hold up a stop.
      if (attempt >= retries || !opts.msgId || isConnectionGone(err) || !(await backedOff(attempt, opts.retryWhile))) throw err;
    }
  }
}

/** The message id JetStream sees: the caller's key within its subject. */
export function scopedMsgId(subject: string, msgId: string): string {
  return `${subject}|${msgId}`;
}
