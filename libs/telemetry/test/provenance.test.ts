// Provenance: "at commit X" only for a tree clean from start to finish; anything else is "uncommitted".
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { provenanceLabel, startProvenance } from "../src/index.js";

const repo = mkdtempSync(join(tmpdir(), "lspo-prov-"));
afterAll(() => rmSync(repo, { recursive: true, force: true }));
const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: repo, encoding: "utf8" }).trim();
git("init", "-q");
writeFileSync(join(repo, "a.txt"), "1");
git("add", "a.txt");
git("commit", "-qm", "first");
const head = git("rev-parse", "HEAD");

describe("provenance", () => {
  it("labels a clean tree 'at commit <sha>' and records the command, machine and load", () => {
    const p = startProvenance({ cwd: repo, command: ["bench", "x"] }).finish();
    expect(p.label).toBe(`at commit ${head.slice(0, 7)}`);
    expect(p).toMatchObject({ clean: true, commit: head, command: ["bench", "x"], dirty: [] });
    expect(p.machine.cpus).toBeGreaterThan(0);
    expect(p.loadAverage.start).toHaveLength(3);
    expect(Date.parse(p.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(p.startedAt));
  });

  it("labels a tree that became dirty during the measurement 'uncommitted', naming the path", () => {
    const run = startProvenance({ cwd: repo });
    writeFileSync(join(repo, "a.txt"), "2");
    const p = run.finish();
    expect(p.label).toBe(`uncommitted (based on ${head.slice(0, 7)})`);
    expect(p.clean).toBe(false);
    expect(p.dirty).toEqual(["a.txt"]);
    git("checkout", "-q", "a.txt");
  });

  it("ignores the measurement's own result file when told to", () => {
    const run = startProvenance({ cwd: repo, ignore: /^results\// });
    writeFileSync(join(repo, "a.txt"), "1");
    execFileSync("mkdir", ["-p", join(repo, "results")]);
    writeFileSync(join(repo, "results", "r.json"), "{}");
    expect(run.finish().clean).toBe(true);
  });

  it("a new commit during the measurement is not 'at' either commit", () => {
    const start = { commit: "a".repeat(40), dirty: [] };
    expect(provenanceLabel(start, { commit: "b".repeat(40), dirty: [] })).toEqual({ label: "uncommitted (based on aaaaaaa)", clean: false });
    expect(provenanceLabel({ commit: null, dirty: [] }, { commit: null, dirty: [] }).clean).toBe(false);
  });
});
