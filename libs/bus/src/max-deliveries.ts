// Messages the server gave up on. With a bounded max_deliver, JetStream stops delivering a message after its
// last delivery whether or not the consumer's own handler saw that delivery fail (processOrDeadLetter): the
// consumer may have died with it in hand, or its copy may have waited in a client buffer while the server
// already redelivered. Such a message would sit in the work queue forever, its uid in no terminal state.
// The server announces each one (a max-deliveries advisory); this watcher moves it to the dead-letter stream
// with the reason and removes it from the work queue, once it is still there after a grace period (a slow
// consumer may yet ack the copy it holds).
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { decodeEnvelope } from "./codec.js";
import { type DeadLetter, deadLetterSubject } from "./consume.js";
import { publishEvent } from "./events.js";
import { publishMessage } from "./publish.js";

export interface WatchedConsumer {
  stream: string;
  durable: string;
  /** Envelope kind on the stream, to read the uids from the payload. */
  kind: string;
  /** The prompt uids a body carries. */
  uidsOf: (body: unknown) => string[];
  /**
   * A kept stream (such as LSPO_VERIFIED): the message stays where it is, since a batch may name it; a work
   * queue's message is deleted. (No lspo consumer of a kept stream is watched now: the sampler's has no delivery
   * limit and counts its own failed judgements, services/sampler given-up.ts. Kept for a consumer that has one.)
   */
  kept?: boolean;
}

export interface MaxDeliveriesWatcher {
  stop(): void;
  /** Letters written so far. */
  readonly handled: number;
}

interface Advisory {
  stream?: string;
  consumer?: string;
  stream_seq?: number;
  deliveries?: number;
}

export function watchMaxDeliveries(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  runId: string,
  consumers: WatchedConsumer[],
  graceMs: number,
  onLetter: (letter: DeadLetter) => void = () => undefined,
): MaxDeliveriesWatcher {
  const subs = consumers.map((c) => ({ c, sub: nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${c.stream}.${c.durable}`) }));
  const timers = new Set<NodeJS.Timeout>();
  let handled = 0;
  const letter = async (c: WatchedConsumer, a: Advisory): Promise<void> => {
    const seq = Number(a.stream_seq);
    // Acked meanwhile (processed after all): gone from a work queue; below the ack floor of a kept stream's consumer.
    if (c.kept && (await jsm.consumers.info(c.stream, c.durable).then((i) => i.ack_floor.stream_seq >= seq, () => false))) return;
    const m = await jsm.streams.getMessage(c.stream, { seq }).catch(() => null);
    if (!m) return;
    let uids: string[] = [];
    try {
      uids = c.uidsOf(decodeEnvelope(m.data, c.kind).body);
    } catch {
      // undecodable: the letter keeps the payload, without uids
    }
    const reason = `the server stopped delivering it after ${a.deliveries} deliveries to ${c.durable} with no ack (its consumer died or timed out with it each time)`;
    const body: DeadLetter = {
      stream: c.stream, subject: m.subject, seq, kind: c.kind, failure: "max-deliveries", reason, payload: m.data.subarray(0, 65536), at: new Date(),
      consumer: c.durable, deliveries: Number(a.deliveries), uids,
    };
    await publishMessage(js, deadLetterSubject(c.stream), "DeadLetter", body, { msgId: `dlq-${c.stream}-${seq}` });
    await publishEvent(js, runId, "ledger", {
      type: "dropped", reason: "dead-letter", uids, stream: c.stream, subject: m.subject, seq, kind: c.kind, failure: "max-deliveries", error: reason,
      consumer: c.durable, deliveries: Number(a.deliveries),
    }, `dlq-${c.stream}-${seq}`);
    // Out of the work queue: nobody will take it, and it would hold the wind-down's drain check forever.
    if (!c.kept) await jsm.streams.deleteMessage(c.stream, seq, false).catch(() => undefined);
    handled++;
    onLetter(body);
  };
  for (const { c, sub } of subs) {
    void (async () => {
      for await (const msg of sub) {
        let a: Advisory;
        try {
          a = msg.json<Advisory>();
        } catch {
          continue;
        }
        if (!Number.isInteger(a.stream_seq)) continue;
        const t = setTimeout(() => {
          timers.delete(t);
          void letter(c, a).catch(() => undefined);
        }, graceMs);
        timers.add(t);
      }
    })();
  }
  return {
    stop() {
      for (const { sub } of subs) sub.unsubscribe();
      for (const t of timers) clearTimeout(t);
    },
    get handled() {
      return handled;
    },
  };
}
