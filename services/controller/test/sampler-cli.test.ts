// `lspo sampler simulate`: parsing, both modes against the hand-worked example, and the real CLI entry.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseGroups, simulate } from "../src/commands/sampler.js";

const root = resolve(import.meta.dirname, "../../..");
const dir = mkdtempSync(join(tmpdir(), "lspo-sampler-"));

function lspo(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(root, "scripts/lspo.mjs"), ...args], { cwd: root, input, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// Mean lengths (G = 2): g0 all correct, g1 all wrong, then 100 40 70 10 90 55 20 80. Over the eight
// survivors Q(0.30) = 40, Q(0.65) = 80, Q(0.95) = 100: kept g2 g3 g5 g6 g8 g9 in arrival order.
const means = [10, 10, 100, 40, 70, 10, 90, 55, 20, 80];
const lines = means.map((L, i) => JSON.stringify({ uid: `g${i}`, lengths: [L - 1, L + 1], rewards: i === 0 ? [1, 1] : i === 1 ? [0, 0] : [1, 0] }));
const file = join(dir, "groups.jsonl");
writeFileSync(file, `${lines.join("\n")}\n`);

describe("sampler cli - simulate", () => {
  it("batch mode prints the first B kept groups with the generation batch's thresholds", () => {
    const r = lspo(["sampler", "simulate", "--mode", "batch", "--gen-batch", "10", "--batch-size", "4", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`{"batch":0,"uids":["g2","g3","g5","g6"],"thresholds":{"low":40,"high":80,"max":100,"windowFill":8}}\n`);
    expect(JSON.parse(r.stderr).stats).toMatchObject({ offered: 10, accepted: 6, discardedOverflow: 2 });
  });

  it("stream mode judges on arrival; with the equivalence flags it prints what batch mode prints", () => {
    const groups = parseGroups(Array.from({ length: 60 }, (_, i) => JSON.stringify({ uid: `p${i}`, lengths: [(i * 37) % 50, (i * 11) % 23], rewards: i % 5 === 0 ? [0, 0] : [1, 0] })).join("\n"), "t");
    const out = (o: Parameters<typeof simulate>[1]) => {
      const got: unknown[] = [];
      simulate(groups, o, (b) => got.push([b.index, b.uids, b.thresholds]));
      return got;
    };
    const batch = out({ mode: "batch", genBatch: 12, feed: "group", batch: { batchSize: 5 } });
    expect(batch.length).toBeGreaterThan(2);
    expect(out({ mode: "stream", genBatch: 12, feed: "gen-batch", stream: { batchSize: 5, window: 12, windowCounts: "arrivals", overflow: "discard" } })).toEqual(batch);
    expect(out({ mode: "stream", genBatch: 12, feed: "group", stream: { batchSize: 5, window: 12 } })).not.toEqual(batch);
  });

  it("reads stdin and applies the level flags", () => {
    // With lLow = lHigh = 0 and lMax = 1 every survivor is kept: Q(0) is the minimum.
    const r = lspo(["sampler", "simulate", "--mode", "stream", "--gen-batch", "4", "--batch-size", "3", "--l-low", "0", "--l-high", "0", "--l-max", "1", "-"], lines.join("\n"));
    expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l).uids)).toEqual([["g2", "g3", "g4"], ["g5", "g6", "g7"]]);
  });
});

describe("sampler cli - errors name what was wrong", () => {
  it("a bad line names its number and field", () => {
    expect(() => parseGroups(`${lines[0]}\n\n{"uid": "x", "lengths": [3, -1], "rewards": [0, 1]}`, "f.jsonl")).toThrow(
      "f.jsonl line 3: field 'lengths[1]' must be a non-negative integer token count, got -1",
    );
    expect(() => parseGroups(`{"uid": "x", "lengths": [3], "reward": [0]}`, "f.jsonl")).toThrow(
      "f.jsonl line 1: field 'reward' is not a group field (valid fields: uid, lengths, rewards, correct)",
    );
    expect(() => parseGroups(`{"uid": "x", "lengths": [3], "rewards": [0]}\n{"uid": 7`, "f.jsonl")).toThrow(/^f\.jsonl line 2: not valid JSON/);
    expect(() => parseGroups(`{"uid": 5, "lengths": [3], "rewards": [0]}`, "f.jsonl")).toThrow("f.jsonl line 1: field 'uid' must be a non-empty string, got 5");
  });

  it("the CLI exits 1 on bad data and 2 on bad flags, naming them", () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `${lines[0]}\n{"uid": "y", "lengths": [1, 2], "rewards": [1]}\n`);
    const r1 = lspo(["sampler", "simulate", "--mode", "batch", "--gen-batch", "2", "--batch-size", "1", bad]);
    expect([r1.code, r1.stderr.trim()]).toEqual([1, `lspo sampler simulate: ${bad} line 2: field 'rewards' has 1 entries but 'lengths' has 2 (one reward per response)`]);
    const r2 = lspo(["sampler", "simulate", "--mode", "batch", "--gen-batch", "2", "--batch-size", "1", "--windw", "3", file]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("Unknown option '--windw'");
    const r3 = lspo(["sampler", "simulate", "--mode", "stream", "--gen-batch", "2", "--batch-size", "1", "--l-max", "1.5", file]);
    expect([r3.code, r3.stderr.trim()]).toEqual([2, "lspo sampler simulate: --l-max must be a number in [0, 1], got '1.5'"]);
    // Rounds of one group: g0 all correct, g1 all wrong, g2 kept -> 1 of 8 after the third round.
    const r4 = lspo(["sampler", "simulate", "--mode", "batch", "--gen-batch", "1", "--batch-size", "8", "--max-gen-rounds", "3", file]);
    expect(r4.code).toBe(1);
    expect(r4.stderr).toContain("3 generation rounds kept only 1 of the 8 groups");
    const r5 = lspo(["sampler", "simulate", "--mode", "fast", "--gen-batch", "1", "--batch-size", "8", file]);
    expect([r5.code, r5.stderr.trim()]).toEqual([2, "lspo sampler simulate: --mode must be 'batch' or 'stream', got 'fast'"]);
  });
});
