// Reads the run's training batches in stream order from a given sequence (an ordered consumer: no acks,
// nothing removed), decoding and validating each; a batch that travelled by reference is fetched from the
// object store. A malformed batch is reported and skipped, never fatal.
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { STREAMS, decodeEnvelope, getBlob, validateTrainingBatch } from "@lspo/bus";
import type { ObjectStore } from "@nats-io/obj";
import type { TrainingBatch } from "@lspo/proto";

export interface BatchMessage {
  seq: number;
  batch: TrainingBatch;
}

export async function* readBatches(
  js: JetStreamClient,
  subject: string,
  fromSeq: number,
  store: ObjectStore,
  onReject: (seq: number, reason: string) => void,
): AsyncGenerator<BatchMessage> {
  const consumer = await js.consumers.get(STREAMS.batches.name, {
    filter_subjects: subject, // a single string becomes filter_subject: nats-server 2.9 has no filter_subjects
    deliver_policy: fromSeq > 1 ? DeliverPolicy.StartSequence : DeliverPolicy.All,
    ...(fromSeq > 1 ? { opt_start_seq: fromSeq } : {}),
  });
  const messages = await consumer.consume({ max_messages: 4 });
  try {
    for await (const m of messages) {
      try {
        let batch = decodeEnvelope(m.data, "TrainingBatch").body as TrainingBatch;
        if (batch.objectRef) batch = decodeEnvelope(await getBlob(store, batch.objectRef), "TrainingBatch").body as TrainingBatch;
        const problem = validateTrainingBatch(batch);
        if (problem) throw new Error(problem);
        yield { seq: m.seq, batch };
      } catch (err) {
        onReject(m.seq, (err as Error).message);
      }
    }
  } finally {
    messages.stop();
  }
}
