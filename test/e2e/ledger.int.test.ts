// The ledger end to end: a whole run (real processes, real NATS) in which one well-formed verified group makes
// the sampler throw every time it is judged. The sampler crashes and is restarted, the group is judged again
// (replayed or redelivered), and at its bus.maxDeliver-th failed judgement (the sampler's own count) it is
// dead-lettered with the reason; the run goes on and ends with
// every requested uid in exactly one terminal state: that one dropped as "dead-letter", none lost, none
// trained twice. The local copies (metrics.jsonl, sampler.jsonl) came over NATS.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfigFile } from "@lspo/config";
import { PromptSource, train } from "@lspo/controller";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

const root = resolve(import.meta.dirname, "../..");

afterEach(() => {
  delete process.env.LSPO_FAULT_SAMPLER_THROW_UID;
});

describe("ledger - a poison group in a whole run", { timeout: 240_000 }, () => {
  it("dead-letters it after bus.maxDeliver failed judgements and accounts for every uid", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-ledger-"));
    const config = loadConfigFile(join(root, "configs/smoke.yaml"), [
      "run.name=ledger-poison", `run.dir=${dir}`, "run.timeoutS=150", "sampler.ackWaitMs=4000", "sampler.maxRestarts=-1", "bus.maxDeliver=2",
    ]);
    const source = await PromptSource.create(config);
    source.next();
    const poison = source.next().uid; // the run's second prompt
    process.env.LSPO_FAULT_SAMPLER_THROW_UID = poison;
    const s = await train(config, { quiet: true });

    expect(s.steps).toBe(config.run.steps);
    expect(s.ledger.requested).toBe(s.requested);
    expect(s.ledger.lost, JSON.stringify(s.ledger)).toBe(0);
    expect(s.ledger.duplicates).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.duplicates).toBe(0);
    expect(s.ledger.dropped["dead-letter"]).toBe(1);
    const terminal = s.ledger.trained + Object.values(s.ledger.dropped).reduce((a, b) => a + b, 0);
    expect(terminal).toBe(s.requested);
    expect(s.actors.find((a) => a.kind === "sampler")!.restarts).toBeGreaterThanOrEqual(1);
    // The dead letter's reason reached the controller's copy of the run's events.
    const events = readFileSync(join(dir, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const dead = events.find((e) => e.kind === "ledger" && e.body.reason === "dead-letter");
    expect(dead.body).toMatchObject({ uids: [poison], stream: "LSPO_VERIFIED", deliveries: 2, consumer: "sampler-ledger-poison" });
    // The sampler gave up on it itself, after its second failed judgement (a delivery that died unjudged with a
    // crashed incarnation is no try), and said why.
    expect(dead.body.error).toMatch(/^judging failed 2 times \(bus\.maxDeliver 2\): injected fault judging/);
    // The local copies came over NATS: every judgement but the poison one, and the learner's updates.
    const judged = readFileSync(join(dir, "sampler.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(judged.some((j) => j.uid === poison)).toBe(false);
    const updates = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.event === "update");
    expect(updates.map((u) => u.step)).toEqual([1, 2, 3]);
    expect(existsSync(join(dir, "summary.json"))).toBe(true);
  });
});
