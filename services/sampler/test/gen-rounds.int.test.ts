// GenRoundsExceededError end to end: a batch-mode run whose groups are all wrong (a fresh random policy,
// accuracy filter on) reaches sampler.maxGenRounds; the run ends once, with exit code non-zero and the
// numbers in its message, and the sampler never restarts (it used to crash, get the group redelivered and
// crash again after every restart). Real processes, real NATS (`lspo train` on configs/smoke.yaml).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");

describe("sampler - maxGenRounds ends the run", { timeout: 300_000 }, () => {
  it("exits non-zero once, naming GenRoundsExceededError with its numbers; no sampler restart", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lspo-genrounds-")), "run");
    const r = spawnSync(
      process.execPath,
      [join(root, "scripts/lspo.mjs"), "train", "-c", "configs/smoke.yaml", "sampler.mode=batch", "sampler.accuracyFilter=true", "sampler.genBatch=4", "sampler.maxGenRounds=2", "run.timeoutS=240", `run.dir=${dir}`],
      { cwd: root, encoding: "utf8", timeout: 280_000 },
    );
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(-2000)).not.toBe(0);
    expect(out).toContain("GenRoundsExceededError: batch sampler: 2 generation rounds kept only 0 of the 4 groups a training batch needs (maxGenRounds = 2)");
    expect(out.match(/GenRoundsExceededError/g)).toHaveLength(1);
    const samplerLog = readFileSync(join(dir, "logs/sampler-0.log"), "utf8");
    expect(samplerLog.match(/sampler ready/g)).toHaveLength(1);
    expect(samplerLog).not.toContain("sampler loop failed");
  });
});
