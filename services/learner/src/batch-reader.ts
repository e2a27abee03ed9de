// Reads the run's training batches in stream order from a given sequence, decoding and validating each; the
// groups a batch names by reference are read from LSPO_VERIFIED (and a batch an earlier version put in the
// object store is fetched from there). A malformed batch is reported and
// skipped, never fatal. The consumer is durable (an ephemeral one can be reaped by the server while the
// learner is busy in a long update) and is re-created at start from the learner's own position, so a
// learner resumed from an older checkpoint replays exactly the batches after it. A refused batch (undecodable,
// oversize, malformed, token ids outside the vocabulary, a reference to nothing) is dead-lettered with its
// reason like every other consumer's, and skipped. A server that cannot answer (a NATS restart, an election)
// is not the batch's fault: reading its groups is retried (retryTransient, for a minute), and past that the
// error ends the loop, the learner restarts and reads the batch again.
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { DecodeError, STREAMS, deadLetter, decodeEnvelope, getBlob, resolveGroupRefs, retryTransient, validateTrainingBatch, type Validator } from "@lspo/bus";
import type { ObjectStore } from "@nats-io/obj";
import type { TrainingBatch } from "@lspo/proto";
import type { BatchAcks } from "./batch-acks.js";

/** How long a batch's reads are retried while the server cannot answer (a restart, an election). */
const SERVER_RETRY_MS = 60_000;

export interface BatchMessage {
  seq: number;
  batch: TrainingBatch;
  /** Marks the batch done (after the update it fed). */
  done(): void;
  /** Extends the ack deadline while a long update runs (instead of the batch being redelivered). */
  working(): void;
  /** Gives up on the batch: dead letter with the reason (and its uids, for the ledger), terminated. */
  deadLetter(reason: string, uids: string[], deliveries: number): Promise<void>;
}

export async function* readBatches(
  js: JetStreamClient,
  jsm: JetStreamManager,
  durable: string,
  subject: string,
  fromSeq: number,
  store: ObjectStore,
  onReject: (seq: number, reason: string) => void,
  /** maxBytes: a batch's bound; groupMaxBytes: each group's a batch names (the VerifiedGroup bound). */
  check: { maxBytes: number; groupMaxBytes: number; validate: Validator },
  opts: {
    /** The consumer's max_deliver (bus.maxDeliver); unbounded without. */
    maxDeliver?: number;
    /** Acks the batches done (batch-acks.ts: kept to send again after a reconnect); a plain ack without. */
    acks?: BatchAcks;
    /** A batch delivered again after it was given out: acked and skipped (see below). */
    onRedelivered?: (seq: number) => void;
  } = {},
): AsyncGenerator<BatchMessage> {
  const { maxDeliver = -1, acks, onRedelivered } = opts;
  await jsm.consumers.delete(STREAMS.batches.name, durable).catch(() => undefined);
  await jsm.consumers.add(STREAMS.batches.name, {
    durable_name: durable,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    // An update can take minutes on a big model; the learner is the only reader, so a long ack wait
    // costs nothing.
    ack_wait: nanos(30 * 60_000),
    max_ack_pending: 4,
    // Bounded like every consumer (bus.maxDeliver); the learner keeps the ack alive with working() during an
    // update, so a redelivery means the learner died, and its own attempt count decides on a poison batch.
    max_deliver: maxDeliver,
    deliver_policy: fromSeq > 1 ? DeliverPolicy.StartSequence : DeliverPolicy.All,
    ...(fromSeq > 1 ? { opt_start_seq: fromSeq } : {}),
  });
  const consumer = await js.consumers.get(STREAMS.batches.name, durable);
  const messages = await consumer.consume({ max_messages: 2 });
  // Each batch is given out once, in stream order. A NATS server killed before it wrote its consumer's state
  // forgets what it delivered and delivers it again when it is back (the long chaos NATS-restart run: a batch
  // trained, then handed over again 6 ms later, its groups counted again as duplicates or stale, and the
  // learner's consumed count one too high). A batch at or below the last one given out was handled (or is
  // being handled) by this incarnation: it is acked and skipped.
  let lastGiven = fromSeq - 1;
  try {
    for await (const m of messages) {
      if (m.seq <= lastGiven) {
        m.ack();
        onRedelivered?.(m.seq);
        continue;
      }
      lastGiven = m.seq;
      let batch: TrainingBatch;
      try {
        batch = decodeEnvelope(m.data, "TrainingBatch", check.maxBytes).body as TrainingBatch;
        const shape = validateTrainingBatch(batch);
        if (shape) throw new DecodeError("invalid", shape);
        if (batch.objectRef) {
          // An earlier version's batch. A reference to nothing is the message's fault (refused); a store that
          // cannot answer is retried. The object store's own errors include a corrupt object's digest
          // mismatch, so one still failing after the retries is dead-lettered, as it always was.
          const ref = batch.objectRef;
          batch = await retryTransient(async () => {
            const info = await store.info(ref);
            if (!info || info.deleted) throw new DecodeError("invalid", `TrainingBatch.objectRef '${ref}' names no object in the batch store`);
            return decodeEnvelope(await getBlob(store, ref), "TrainingBatch", check.maxBytes).body as TrainingBatch;
          }, SERVER_RETRY_MS).catch((err: Error) => {
            throw err instanceof DecodeError ? err : new DecodeError("invalid", `TrainingBatch.objectRef '${ref}': ${err.message}`);
          });
        }
        // Groups by reference: their bodies are on LSPO_VERIFIED (a ref to nothing, to another group, or to a
        // body that does not match the summary the sampler judged is refused; a server that cannot answer is
        // retried, then ends the loop, and the restarted learner reads the batch again).
        const refs = batch.groupRefs ?? [];
        if (refs.length) batch = { ...batch, groups: await retryTransient(() => resolveGroupRefs(jsm, refs, { maxBytes: check.groupMaxBytes }), SERVER_RETRY_MS) };
        const problem = validateTrainingBatch(batch) ?? check.validate(batch);
        if (problem) throw new DecodeError("invalid", problem);
      } catch (err) {
        // Only the message's own faults are dead-lettered; the server's end the loop (see the header).
        if (!(err instanceof DecodeError)) throw err;
        const failure = err.failure;
        await deadLetter(js, m, { stream: STREAMS.batches.name, kind: "TrainingBatch", failure, reason: (err as Error).message });
        onReject(m.seq, (err as Error).message);
        continue;
      }
      yield {
        seq: m.seq,
        batch,
        done: () => (acks ? acks.ack(m) : m.ack()),
        working: () => m.working(),
        deadLetter: (reason, uids, deliveries) =>
          deadLetter(js, m, { stream: STREAMS.batches.name, kind: "TrainingBatch", failure: "processing", reason, consumer: durable, deliveries, uids }),
      };
    }
  } finally {
    messages.stop();
  }
}
