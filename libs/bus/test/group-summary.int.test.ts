// A verified group travels once: published with its summary header, judged by a headers-only consumer that
// never receives its tokens, and read back by sequence where a batch names it (libs/bus group-summary.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers as natsHeaders } from "@nats-io/nats-core";
import {
  DecodeError, GROUP_SUMMARY_HEADER, STREAMS, bytesOf, consume, deadLetterSubject, decodeEnvelope, encodeEnvelope, ensureConsumer, jetstream,
  jetstreamManager, parseGroupSummary, publishVerified, resolveGroupRefs, startLocalBus, subjectFor, summaryHeader, summaryOf,
  type DeadLetter, type LocalBus,
} from "@lspo/bus";
import type { GroupSummary, VerifiedGroup } from "@lspo/proto";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus({ streams: true });
});
afterAll(() => bus?.stop());

function vg(uid: string, lengths: number[], version = 3n): VerifiedGroup {
  return {
    group: {
      uid,
      prompt: { uid, runId: "r", task: "t", promptText: "", promptIds: bytesOf(Int32Array.from([1, 2])), answer: "", groupSize: lengths.length, cursor: 0n },
      responses: lengths.map((n) => ({ tokenIds: bytesOf(Int32Array.from({ length: n }, (_, i) => i)), logprobs: bytesOf(new Float32Array(n)), truncated: false, text: "" })),
      policyVersion: version,
      actor: "a",
    },
    rewards: lengths.map((_, i) => i % 2),
    correct: lengths.map((_, i) => i % 2 === 1),
  };
}

const headerOf = (text: string) => {
  const h = natsHeaders();
  h.set(GROUP_SUMMARY_HEADER, text);
  return h;
};

describe("bus - verified group summaries", () => {
  it("a summary is everything the sampler judges by, and reads back as it was written", () => {
    const s = summaryOf(vg("u1", [3, 5, 0]));
    expect(s).toEqual({ uid: "u1", lengths: [3, 5, 0], rewards: [0, 1, 0], correct: [false, true, false], policyVersion: 3n });
    expect(parseGroupSummary(headerOf(summaryHeader(s)))).toEqual(s);
    // uint64 beyond 2^53 survives (a decimal string, not a JSON number).
    const big: GroupSummary = { ...s, policyVersion: 2n ** 60n + 1n };
    expect(parseGroupSummary(headerOf(summaryHeader(big))).policyVersion).toBe(2n ** 60n + 1n);
  });

  it("refuses a malformed summary, naming what is wrong", () => {
    const ok = JSON.parse(summaryHeader(summaryOf(vg("u1", [3, 5]))));
    const refused = (h: ReturnType<typeof natsHeaders> | undefined) => {
      try {
        parseGroupSummary(h);
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refused(undefined)).toMatch(/no Lspo-Group header/);
    expect(refused(headerOf("{\"uid\":"))).toMatch(/not JSON/);
    expect(refused(headerOf("[1]"))).toMatch(/not a JSON object/);
    expect(refused(headerOf(JSON.stringify({ ...ok, uid: "" })))).toMatch(/uid should be a non-empty string/);
    expect(refused(headerOf(JSON.stringify({ ...ok, rewards: [1] })))).toMatch(/rewards has 1 entries for 2 responses/);
    expect(refused(headerOf(JSON.stringify({ ...ok, lengths: [3, -1] })))).toMatch(/lengths\[1\] should be an integer >= 0, got -1/);
    expect(refused(headerOf(JSON.stringify(ok).replace('"rewards":[0,1]', '"rewards":[0,1e999]')))).toMatch(/rewards\[1\] is not a finite number/);
    expect(refused(headerOf(JSON.stringify({ ...ok, correct: [true, 1] })))).toMatch(/correct\[1\] should be boolean, got 1/);
    expect(refused(headerOf(JSON.stringify({ ...ok, policyVersion: 3 })))).toMatch(/policyVersion should be a decimal uint64 string, got 3/);
    expect(refused(headerOf(JSON.stringify({ ...ok, lengths: [], rewards: [], correct: [] })))).toMatch(/lengths is empty/);
    expect(refused(headerOf(JSON.stringify({ ...ok, uid: "x".repeat(20_000) })))).toMatch(/Lspo-Group header is 20\d\d\d characters, over 16384/);
  });

  it("a headers-only consumer gets the summary and no tokens; a batch's references read back the bodies", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("verified", "summary-roundtrip");
    await ensureConsumer(jsm, STREAMS.verified.name, "sampler-summary-roundtrip", { filterSubject: subject, headersOnly: true });
    const groups = [vg("a", [4, 2]), vg("b", [1, 7]), vg("c", [9, 9])];
    const acks = [];
    for (const g of groups) acks.push(await publishVerified(js, subject, g, `verified-${g.group!.uid}`));
    const sub = await consume<GroupSummary>(js, { stream: STREAMS.verified.name, durable: "sampler-summary-roundtrip", kind: "GroupSummary", fromHeaders: (h) => parseGroupSummary(h) });
    const got: Array<{ seq: number; body: GroupSummary }> = [];
    for await (const d of sub) {
      got.push({ seq: d.seq, body: d.body });
      d.ack();
      if (got.length === groups.length) break;
    }
    await sub.stop();
    expect(got.map((d) => d.body)).toEqual(groups.map(summaryOf));
    expect(got.map((d) => d.seq)).toEqual(acks.map((a) => a.seq));
    // Acked by the sampler, still on the stream: the learner reads the kept ones (in the batch's order).
    const refs = [{ uid: "c", seq: BigInt(acks[2].seq) }, { uid: "a", seq: BigInt(acks[0].seq) }];
    const bodies = await resolveGroupRefs(jsm, refs);
    expect(bodies.map((b) => b.group!.uid)).toEqual(["c", "a"]);
    expect(Array.from(new Int32Array(bodies[0].group!.responses[1].tokenIds.slice().buffer))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("refuses a reference to nothing, to another group, or to a body that does not match its summary", async () => {
    const js = jetstream(bus.nc);
    const subject = subjectFor("verified", "summary-refs");
    const good = await publishVerified(js, subject, vg("good", [2, 3]));
    // A body whose header says other lengths than its tokens (a forged or buggy publisher).
    const forged = vg("forged", [2, 3]);
    const lie = await js.publish(subject, encodeEnvelope("VerifiedGroup", forged), { headers: headerOf(summaryHeader({ ...summaryOf(forged), lengths: [2, 30] })) });
    const jsm = await jetstreamManager(bus.nc);
    await expect(resolveGroupRefs(jsm, [{ uid: "good", seq: 2n ** 40n }])).rejects.toThrow(/holds no message at that sequence/);
    // A sequence no stream holds is the batch's fault (a DecodeError: dead-lettered), not a read to retry.
    for (const seq of [0n, -1n, 2n ** 60n]) {
      await expect(resolveGroupRefs(jsm, [{ uid: "good", seq }])).rejects.toThrow(new DecodeError("invalid", `TrainingBatch.groupRefs[0] (uid good, LSPO_VERIFIED sequence ${seq}): not a stream sequence (1 to 2^53 - 1)`));
    }
    await expect(resolveGroupRefs(jsm, [{ uid: "other", seq: BigInt(good.seq) }])).rejects.toThrow(/the message there is group good/);
    await expect(resolveGroupRefs(jsm, [{ uid: "forged", seq: BigInt(lie.seq) }])).rejects.toThrow(/its lengths differ between the Lspo-Group header and the body/);
    // A body over the reader's per-group bound (the learner's: payloadLimits().VerifiedGroup) is refused by name.
    const size = (await jsm.direct.getMessage(STREAMS.verified.name, { seq: good.seq }))!.data.byteLength;
    await expect(resolveGroupRefs(jsm, [{ uid: "good", seq: BigInt(good.seq) }], { maxBytes: size - 1 })).rejects.toThrow(`TrainingBatch.groupRefs[0] (uid good, LSPO_VERIFIED sequence ${good.seq}): payload of ${size} bytes exceeds the limit of ${size - 1} for VerifiedGroup`);
    expect(await resolveGroupRefs(jsm, [{ uid: "good", seq: BigInt(good.seq) }], { maxBytes: size })).toHaveLength(1);
  });

  it("dead-letters a refused header with the message's payload, read from the stream", async () => {
    const js = jetstream(bus.nc);
    const jsm = await jetstreamManager(bus.nc);
    const subject = subjectFor("verified", "summary-dlq");
    await ensureConsumer(jsm, STREAMS.verified.name, "sampler-summary-dlq", { filterSubject: subject, headersOnly: true, ackWaitMs: 500 });
    const body = encodeEnvelope("VerifiedGroup", vg("no-header", [2])).slice();
    const ack = await js.publish(subject, body);
    const reasons: string[] = [];
    const sub = await consume(js, { stream: STREAMS.verified.name, durable: "sampler-summary-dlq", kind: "GroupSummary", fromHeaders: (h) => parseGroupSummary(h), onReject: (r) => reasons.push(r) });
    void sub[Symbol.asyncIterator]().next();
    for (const until = Date.now() + 5000; reasons.length === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    await sub.stop();
    expect(reasons).toEqual([expect.stringMatching(/no Lspo-Group header/)]);
    const letter = await jsm.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: deadLetterSubject(STREAMS.verified.name) });
    const dl = decodeEnvelope(letter!.data, "DeadLetter").body as DeadLetter;
    expect(dl).toMatchObject({ stream: STREAMS.verified.name, subject, seq: ack.seq, kind: "GroupSummary", failure: "invalid" });
    expect(Buffer.from(dl.payload).equals(Buffer.from(body))).toBe(true);
  });
});
