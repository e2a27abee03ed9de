// A finished run's leftover prompts (leftover-prompts.ts) on a real nats-server: their uids are returned, each
// message is deleted (a malformed one too), another run's prompts stay, and the account's JetStream storage
// usage falls by what was removed. The last is why they are deleted one by one: nats-server 2.9.10 leaves a
// purge by subject filter on the account's usage (the old wind-down's purge fails this test there).
import { describe, expect, it } from "vitest";
import { STREAMS, jetstream, publishMessage, subjectFor } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";
import { takeLeftoverPrompts } from "../src/run/leftover-prompts.js";
import { busWithStreams } from "./support/streams-bus.js";

const local = busWithStreams();

const prompt = (uid: string, runId: string): PromptRequest =>
  ({ uid, runId, task: "arith", promptText: `${uid}: ${"x".repeat(20_000)}`, promptIds: Buffer.alloc(0), answer: "4", groupSize: 4, sampling: undefined, cursor: 0n });

async function publishPrompts(runId: string, uids: string[]): Promise<void> {
  const js = jetstream(local.nc);
  for (const uid of uids) await publishMessage(js, subjectFor("prompts", runId), "PromptRequest", prompt(uid, runId), { msgId: `prompt-${uid}` });
}
const accountStorage = async () => (await local.jsm.getAccountInfo()).storage;
const messagesOn = async (subject: string) => (await local.jsm.streams.info(STREAMS.prompts.name, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;

describe("takeLeftoverPrompts", () => {
  it("returns the run's uids, deletes its prompts (malformed too), keeps other runs', and frees their storage", async () => {
    const [a, b] = ["run-a", "run-b"];
    await publishPrompts(a, ["a0", "a1"]);
    await publishPrompts(b, ["b0", "b1", "b2"]);
    await local.nc.publish(subjectFor("prompts", a), new Uint8Array([1, 2, 3])); // not an envelope
    await local.nc.flush();
    await publishPrompts(a, ["a2"]);
    const before = await accountStorage();
    const bytesOfB = (await local.jsm.streams.info(STREAMS.prompts.name)).state.bytes;

    const got = await takeLeftoverPrompts(local.jsm, subjectFor("prompts", a));
    expect(got).toEqual({ uids: ["a0", "a1", "a2"], deleted: 4 });
    expect(await messagesOn(subjectFor("prompts", a))).toBe(0);
    expect(await messagesOn(subjectFor("prompts", b))).toBe(3);
    // What the stream holds now is run b's; the account's usage fell to it (a filtered purge leaves it at `before`).
    const after = await accountStorage();
    const streamBytes = (await local.jsm.streams.info(STREAMS.prompts.name)).state.bytes;
    expect(after).toBeLessThan(before);
    expect(after).toBe(streamBytes);
    expect(streamBytes).toBeLessThan(bytesOfB);

    // Nothing left: a second call finds nothing.
    expect(await takeLeftoverPrompts(local.jsm, subjectFor("prompts", a))).toEqual({ uids: [], deleted: 0 });
    expect((await takeLeftoverPrompts(local.jsm, subjectFor("prompts", b))).uids).toEqual(["b0", "b1", "b2"]);
    expect(await accountStorage()).toBe(0);
  });
});
