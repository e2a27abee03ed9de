// `lspo train --resume` when the run's NATS store is gone (no data cursor in KV, a checkpoint manifest in the
// run's events): the run goes on from the checkpoint, on streams that start empty.
//
// - Batch sequences continue past the checkpoint's. The learner's consumer starts after the batch sequence b
//   its checkpoint reached, and the ledger keys the learner's history by batch sequence (rolled back past b on
//   `restore`): so the first batch of the new LSPO_BATCHES must land at b + 1. A purge by sequence of the empty
//   stream sets that.
// - The sampler's counters at the resume are the controller's baseline. They are the checkpoint's (or 0 for
//   a sampler that starts afresh), and the store took with it what they counted beyond the checkpoint: the
//   prompts requested and never received, the batches emitted and never consumed. Without the baseline the
//   controller would wait for those forever (docs/RELIABILITY.md).
import { STREAMS, type JetStreamManager, type RunEvent } from "@lspo/bus";

/** Makes the next message of the empty LSPO_BATCHES land after `batchSeq`. Refuses a stream that holds messages below it. */
export async function continueBatchSequence(jsm: JetStreamManager, batchSeq: number): Promise<void> {
  const { state } = await jsm.streams.info(STREAMS.batches.name);
  if (state.last_seq >= batchSeq) return; // not emptied, or continued already (a second resume)
  if (state.messages > 0) {
    throw new Error(
      `resume: ${STREAMS.batches.name} holds ${state.messages} message(s) up to sequence ${state.last_seq}, below the checkpoint's batch sequence ${batchSeq}: ` +
        "it is not the stream the checkpoint was written against, and not empty either",
    );
  }
  await jsm.streams.purge(STREAMS.batches.name, { seq: batchSeq + 1 });
}

/** What the store took with it, read off the sampler's counters the first time the resumed controller sees them. */
export interface LostWithStore {
  /** Prompts requested before the resume that the sampler never received: they count as received. */
  prompts: number;
  /** Batches the learner consumed beyond what the sampler's counters say it emitted (the sampler's emitted ones never consumed are gone). */
  batches: number;
}

/** The baseline, from the manifest (the learner's count at the checkpoint) and the sampler's first counters. */
export function lostWithStore(manifest: RunEvent, requested: number, sampler: { received: number; emitted: number }): LostWithStore {
  const consumed = Number(manifest.batchesConsumed ?? manifest.step ?? 0);
  return { prompts: Math.max(0, requested - sampler.received), batches: consumed - sampler.emitted };
}
