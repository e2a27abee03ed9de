// Verified groups as the verifier publishes them, and the sampler's training batches read back: for tests that
// drive the sampler service (`lspo serve sampler`) without rollout actors or a verifier.
import { STREAMS, bytesOf, decodeEnvelope, encodeEnvelope, subjectFor, verifiedHeaders, type JetStreamClient } from "@lspo/bus";
import type { VerifiedGroup } from "@lspo/proto";

/** A group of `correct.length` samples of run `run`; sample k has `lengthOf(k)` tokens. */
export function verifiedGroup(run: string, uid: string, correct: boolean[], lengthOf: (k: number) => number): { data: Uint8Array; headers: ReturnType<typeof verifiedHeaders> } {
  const vg: VerifiedGroup = {
    group: {
      uid,
      prompt: { uid, runId: run, task: "synthetic", promptText: "", promptIds: bytesOf(Int32Array.from([1, 2])), answer: "", groupSize: correct.length, cursor: 0n },
      responses: correct.map((_, k) => {
        const len = lengthOf(k);
        return { tokenIds: bytesOf(Int32Array.from({ length: len }, (_, t) => 3 + (t % 20))), logprobs: bytesOf(new Float32Array(len)), truncated: false, text: "" };
      }),
      policyVersion: 0n,
      actor: "rollout-0",
    },
    rewards: correct.map((c) => (c ? 1 : 0)),
    correct,
  };
  return { data: encodeEnvelope("VerifiedGroup", vg).slice(), headers: verifiedHeaders(vg) };
}

/** Every message on `subject` of `stream`, decoded, in stream order. */
export async function readAll<T>(js: JetStreamClient, stream: string, subject: string, kind: string): Promise<T[]> {
  const consumer = await js.consumers.get(stream, { filter_subjects: subject });
  const out: T[] = [];
  for (;;) {
    let n = 0;
    for await (const m of await consumer.fetch({ max_messages: 500, expires: 1000 })) {
      out.push(decodeEnvelope(m.data, kind).body as T);
      n++;
    }
    if (n === 0) return out;
  }
}

/** Run `run`'s training batches on LSPO_BATCHES, in stream order: each one's index and its groups' uids. */
export async function trainingBatches(js: JetStreamClient, run: string): Promise<Array<{ index: number; uids: string[] }>> {
  const batches = await readAll<{ batchIndex: bigint; groupRefs: Array<{ uid: string }> }>(js, STREAMS.batches.name, subjectFor("batches", run), "TrainingBatch");
  return batches.map((b) => ({ index: Number(b.batchIndex), uids: b.groupRefs.map((r) => r.uid) }));
}
