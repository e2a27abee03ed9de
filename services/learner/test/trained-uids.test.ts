// The learner's checkpointed state for the ledger: the trained uid set (compact, round-trips, bad input named)
// and the per-batch attempt counts that bound a poison batch across restarts.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BatchAttempts, decodeTrainedUids, encodeTrainedUids } from "@lspo/learner";

describe("learner - trained uids in the checkpoint", () => {
  it("round-trips the set compactly", () => {
    const uids = Array.from({ length: 5000 }, (_, i) => `synthetic-${(i * 2654435761 % 4096).toString(16).padStart(12, "0")}@${i >> 12}.${i}`);
    const saved = encodeTrainedUids(new Set(uids));
    expect(decodeTrainedUids(saved, "state.json")).toEqual(new Set(uids));
    expect(saved.length).toBeLessThan(uids.join("\n").length / 2);
    expect(decodeTrainedUids(encodeTrainedUids([]), "x")).toEqual(new Set());
    expect(decodeTrainedUids(undefined, "x")).toEqual(new Set()); // checkpoints from before the field
  });

  it("names the checkpoint when the field is damaged", () => {
    expect(() => decodeTrainedUids("bm90IGd6aXA=", "/ckpt/step-000004/state.json")).toThrow(/\/ckpt\/step-000004\/state.json: trainedUids is not gzipped base64/);
  });
});

describe("learner - attempts per batch", () => {
  it("survive a restart (a new instance on the same directory) and forget a batch once done", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-attempts-"));
    const a = new BatchAttempts(dir);
    a.set(7, { n: 2 });
    expect(new BatchAttempts(dir).get(7)).toEqual({ n: 2 });
    a.set(7, null);
    expect(new BatchAttempts(dir).get(7)).toBeNull();
  });

  it("a torn file costs the counts, not the learner", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-attempts-"));
    writeFileSync(join(dir, "learner-attempts.json"), "{\"7\": {\"n\"");
    expect(new BatchAttempts(dir).get(7)).toBeNull();
  });
});
