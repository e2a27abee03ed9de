// Resuming on an emptied NATS store (empty-store-resume.ts) on a real nats-server: the empty LSPO_BATCHES is
// made to continue past the checkpoint's batch sequence, a stream already past it is left alone (a second
// resume), and a stream that holds messages below it is refused, naming why. The baseline is the sampler's
// counters at the resume.
import { describe, expect, it } from "vitest";
import { STREAMS, jetstream, subjectFor } from "@lspo/bus";
import { continueBatchSequence, lostWithStore } from "../src/run/empty-store-resume.js";
import { busWithStreams } from "./support/streams-bus.js";

const local = busWithStreams();

const publishBatch = async () => (await jetstream(local.nc).publish(subjectFor("batches", "resumed"), new Uint8Array(8))).seq;
const batches = () => local.jsm.streams.info(STREAMS.batches.name).then((i) => i.state);

describe("resume on an emptied store", () => {
  it("continues LSPO_BATCHES past the checkpoint's sequence, once; refuses a stream with messages below it", async () => {
    await continueBatchSequence(local.jsm, 42);
    expect(await publishBatch()).toBe(43);
    await continueBatchSequence(local.jsm, 42); // past it already: left as it is
    expect(await publishBatch()).toBe(44);
    await continueBatchSequence(local.jsm, 10);
    expect((await batches()).messages).toBe(2);
    await expect(continueBatchSequence(local.jsm, 100)).rejects.toThrow(
      "resume: LSPO_BATCHES holds 2 message(s) up to sequence 44, below the checkpoint's batch sequence 100: it is not the stream the checkpoint was written against, and not empty either",
    );
    expect((await batches()).messages).toBe(2); // refused: nothing purged
  });

  it("takes the sampler's counters at the resume as the baseline", () => {
    // 16 requested, 11 received by the sampler's last save; the learner consumed 2 batches, the sampler had emitted 4.
    expect(lostWithStore({ batchesConsumed: 2, step: 2 }, 16, { received: 11, emitted: 4 })).toEqual({ prompts: 5, batches: -2 });
    // A sampler that starts afresh; an older manifest without batchesConsumed counts its step.
    expect(lostWithStore({ step: 2 }, 16, { received: 0, emitted: 0 })).toEqual({ prompts: 16, batches: 2 });
  });
});
