// The ledger's rules: one terminal state per requested uid; "trained twice" counted on the surviving learner
// history only (a crash rolls back to the checkpoint and the replayed batches are not duplicates).
import { describe, expect, it } from "vitest";
import { Ledger, applyEvent, judgementsOf } from "../src/run/ledger.js";

const rec = (incarnation: string, batchSeq: number, step: number, trained: string[], stale: string[] = []) => ({ incarnation, batchSeq, step, trained, stale });

describe("ledger", () => {
  it("gives every requested uid one terminal state and counts the rest as lost", () => {
    const l = new Ledger();
    l.request(["a", "b", "c", "d", "e", "f", "g", "h"]);
    l.judged("a", "short");
    l.judged("b", "long");
    l.judged("c", "all-wrong");
    l.judged("d", "stale");
    l.judged("e", "unfiltered");
    l.judged("a", "duplicate"); // a redelivery: not a state
    l.batch(0, ["a", "b"]);
    l.batch(1, ["e"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"], ["b"]));
    l.drop(["f"], "cancelled");
    l.drop(["g"], "dead-letter");
    const r = l.report();
    expect(r).toMatchObject({ requested: 8, trained: 1, lost: 1, duplicates: 0, lostUids: ["h"] });
    expect(r.dropped).toEqual({ "stale-at-learner": 1, "all-wrong": 1, "stale-at-sampler": 1, unused: 1, cancelled: 1, "dead-letter": 1 });
  });

  it("the sampler's latest judgement wins: kept, then stale on the replay after a sampler crash", () => {
    const l = new Ledger();
    l.request(["a", "b"]);
    l.judged("a", "short"); // reported, then the sampler died before its snapshot held it
    l.judged("a", "stale"); // the redelivery, judged again from the older state once the learner moved on
    l.judged("b", "stale");
    l.judged("b", "long"); // and the other way round: kept on the replay, then batched
    l.batch(0, ["b"]);
    const r = l.report();
    expect(r).toMatchObject({ lost: 0, trained: 0 });
    expect(r.dropped).toEqual({ "stale-at-sampler": 1, unused: 1 });
  });

  it("a cancellation ends only a uid nobody judged (a crashed NATS server can bring an acked prompt back)", () => {
    const l = new Ledger();
    l.request(["a", "b", "c"]);
    l.judged("a", "short");
    l.batch(0, ["a"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"]));
    l.judged("b", "all-wrong");
    l.drop(["a", "b", "c"], "cancelled"); // all three still in the prompts stream at wind-down
    const r = l.report();
    expect(r).toMatchObject({ requested: 3, trained: 1, lost: 0 });
    expect(r.dropped).toEqual({ "all-wrong": 1, cancelled: 1 });
  });

  it("a crash after the checkpoint and the replay of the same batches is not a duplicate", () => {
    const l = new Ledger();
    l.request(["a", "b", "c"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"]));
    l.learner(rec("L1", 2, 2, ["b"])); // checkpoint at batchSeq 2
    l.learner(rec("L1", 3, 3, ["c"])); // then the crash: step 3 is lost with the process
    l.restore("L2", 2);
    l.learner(rec("L2", 3, 3, ["c"])); // replayed
    const r = l.report();
    expect(r).toMatchObject({ trained: 3, duplicates: 0, lost: 0 });
  });

  it("a uid trained in two batches of the surviving history is a duplicate", () => {
    const l = new Ledger();
    l.request(["a", "b"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"]));
    l.learner(rec("L1", 2, 2, ["a", "b"]));
    expect(l.report()).toMatchObject({ trained: 2, duplicates: 1, duplicateUids: ["a"] });
  });

  it("a uid trained before the checkpoint and again after a restart is a duplicate (the model kept both)", () => {
    const l = new Ledger();
    l.request(["a"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"]));
    l.restore("L2", 1);
    l.learner(rec("L2", 5, 2, ["a"]));
    expect(l.report()).toMatchObject({ duplicates: 1, duplicateUids: ["a"] });
  });

  it("ignores a superseded incarnation's late records and drops what was rolled back", () => {
    const l = new Ledger();
    l.request(["a", "b"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 1, ["a"]));
    l.restore("L2", 0); // restarted from the base model: step 1 rolled back
    l.learner(rec("L1", 2, 2, ["b"])); // the old process, frozen and woken: ignored
    const r = l.report();
    expect(r.trained).toBe(0);
    expect(r.lost).toBe(2);
    l.batch(0, ["a", "b"]);
    expect(l.report().dropped).toEqual({ unused: 2 }); // in a batch never trained by the surviving history
    l.learner(rec("L2", 1, 1, ["a", "b"]));
    expect(l.report()).toMatchObject({ trained: 2, duplicates: 0, lost: 0 });
  });

  it("a rollback undoes a stale-at-learner drop too (the replay decides again)", () => {
    const l = new Ledger();
    l.request(["a"]);
    l.restore("L1", 0);
    l.learner(rec("L1", 1, 0, [], ["a"]));
    l.restore("L2", 0);
    l.learner(rec("L2", 1, 1, ["a"]));
    expect(l.report()).toMatchObject({ trained: 1, dropped: {} });
  });

  it("applies run events and ignores what is not a ledger fact", () => {
    const l = new Ledger();
    expect(applyEvent(l, "ledger", { type: "requested", uids: ["a", "b", 3] })).toBe(true);
    expect(applyEvent(l, "judged", { uid: "a", outcome: "all-correct" })).toBe(true);
    expect(applyEvent(l, "ledger", { type: "dropped", reason: "dead-letter", uids: ["b"] })).toBe(true);
    expect(applyEvent(l, "metric", { event: "update" })).toBe(false);
    expect(applyEvent(l, "judged", { uid: 1 })).toBe(false);
    // The sampler's grouped form: each entry judged; malformed entries skipped, an event of none refused.
    expect(applyEvent(l, "judged", { judgements: [{ uid: "c", length: 3, outcome: "short" }, { uid: 7 }, null] })).toBe(true);
    expect(applyEvent(l, "judged", { judgements: [{ uid: 7 }] })).toBe(false);
    expect(judgementsOf({ judgements: [{ uid: "c", length: 3, outcome: "short" }, { uid: "d", length: "2.5", outcome: "long" }] })).toEqual([
      { uid: "c", length: 3, outcome: "short" }, { uid: "d", length: 2.5, outcome: "long" },
    ]);
    expect(applyEvent(l, "ledger", { type: "nonsense" })).toBe(false);
    expect(l.report()).toMatchObject({ requested: 2, lost: 0, dropped: { "all-correct": 1, "dead-letter": 1 } });
  });
});
