// Reading the dead-letter stream back: every refused payload, with the stream, subject and sequence it came
// from and the reason it was refused.
import { STREAMS, decodeEnvelope, deadLetterSubject, type DeadLetter, type JetStreamClient } from "@lspo/bus";

export async function readDeadLetters(js: JetStreamClient, stream: string): Promise<DeadLetter[]> {
  const consumer = await js.consumers.get(STREAMS.deadLetters.name, { filter_subjects: deadLetterSubject(stream) });
  const out: DeadLetter[] = [];
  for (;;) {
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 1000 })) {
      out.push(decodeEnvelope(m.data, "DeadLetter").body as DeadLetter);
      n++;
    }
    if (n === 0) return out;
  }
}
