// The learner's acks of the batches it trained, sent again after every reconnect. A NATS restart can lose an
// ack: sent as the server went down, or taken by a server killed before it wrote the consumer's state. The
// learner's consumer waits 30 minutes before it redelivers (an update may take that long), so a lost ack
// leaves a trained batch pending for that long: it takes one of the consumer's max_ack_pending slots (four
// lost, and the learner gets no batch at all), and the controller's count of batches waiting for the learner
// stays too high (a long chaos run stalled on two lost acks, with the learner idle). An ack sent again is
// harmless: the server answers it and the batch stays acknowledged.
import type { NatsConnection, Status } from "@nats-io/nats-core";
import type { JsMsg } from "@nats-io/jetstream";
import { retryTransient } from "@lspo/bus";

/** What JetStream takes as an ack on a message's reply subject. */
const ACK = "+ACK";
/** How long one resent ack is retried while JetStream cannot answer yet (recovering its streams after a start). */
const RESEND_RETRY_MS = 60_000;

export class BatchAcks {
  /** Reply subjects of the batches acked last, oldest first. */
  readonly #recent: string[] = [];

  constructor(
    private readonly nc: NatsConnection,
    /** How many of the latest acks are kept to send again: the acks a restart can have caught. */
    private readonly keep = 8,
  ) {}

  /** Acks a trained batch, and keeps its ack to send again after a reconnect. */
  ack(m: JsMsg): void {
    m.ack();
    const reply = (m as JsMsg & { reply?: unknown }).reply;
    if (typeof reply !== "string" || !reply) return;
    this.#recent.push(reply);
    if (this.#recent.length > this.keep) this.#recent.shift();
  }

  /** Sends every kept ack again, each until the server answers (retried while it cannot); the acks the server answered. */
  async resend(): Promise<number> {
    const answered = await Promise.all(
      this.#recent.map((reply) => retryTransient(() => this.nc.request(reply, ACK, { timeout: 2000 }), RESEND_RETRY_MS).then(() => 1, () => 0)),
    );
    return answered.reduce<number>((a, b) => a + b, 0);
  }

  /** Sends the kept acks again after each reconnect, until `stop`. */
  follow(onResent: (answered: number) => void = () => undefined): { stop(): void } {
    let stopped = false;
    // nats.js types status() as a plain AsyncIterable; its iterator has a stop() that ends the loop and drops
    // the connection's listener at once. Without one, the flag ends the loop at the next status.
    const statuses = this.nc.status() as AsyncIterable<Status> & { stop?: () => void };
    void (async () => {
      for await (const s of statuses) {
        if (stopped) return;
        if (s.type === "reconnect") void this.resend().then(onResent, () => undefined);
      }
    })().catch(() => undefined);
    return {
      stop() {
        stopped = true;
        statuses.stop?.();
      },
    };
  }
}
