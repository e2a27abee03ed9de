// The clips act: with mini-batches (learner.ppoMiniBatch = B/4) the old log-probs are computed once per
// batch, so after the first optimizer step the ratios leave 1 and each algorithm's clip engages. Run on the
// shipped demo base (configs/models/demo-base), not smoke.yaml's random model: a random policy answers
// nothing right, every advantage is 0, and no clip can act whatever the learner does. For the same reason
// the run keeps only mixed groups (the accuracy filter) and gives responses room to be right. Also checks that the
// learner's log-probs at the rollout temperature match the rollout's (the training/inference mismatch).
// Real processes, NATS, gRPC and ORT (`lspo train`).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "lspo-clips-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Update {
  step: number;
  optimizerSteps: number;
  groups: number;
  metrics: { clip_frac_low: number; clip_frac_high: number; rollout_logp_diff_tokens: number; rollout_logp_diff_max?: number };
}

function train(algorithm: string): Update[] {
  const dir = join(scratch, algorithm);
  const r = spawnSync(
    process.execPath,
    [
      join(root, "scripts/lspo.mjs"), "train", "-c", "configs/smoke.yaml", "--quiet",
      "model.dir=configs/models/demo-base", "learner.ppoMiniBatch=1", "rollout.temperature=0.7",
      // Room to work a problem (smoke's 12 tokens cut the base's worked answers short, so nearly every group
      // was all wrong), and only mixed groups trained: every group then carries an advantage for a clip to
      // act on. Without these a whole run could train only zero-advantage groups (seen under CI for gspo).
      "rollout.maxNewTokens=48", "sampler.accuracyFilter=true",
      `learner.algorithm.name=${algorithm}`, "run.steps=4", "run.timeoutS=120", `run.dir=${dir}`,
    ],
    { cwd: root, encoding: "utf8", timeout: 150_000 },
  );
  expect(r.status, (r.stdout + r.stderr).slice(-2000)).toBe(0);
  return readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((u) => u.event === "update");
}

describe("mini-batch updates: the clips act", { timeout: 200_000 }, () => {
  for (const algorithm of ["grpo", "dapo", "gspo"]) {
    it(`${algorithm}: 4 optimizer steps per update, rollout log-probs match at T = 0.7, some tokens clipped`, () => {
      const updates = train(algorithm);
      expect(updates.map((u) => u.step)).toEqual([1, 2, 3, 4]);
      // Mini-batches of 1 group, ppoEpochs 1: one optimizer step per group trained. A batch can reach the
      // learner short of B = 4 (groups stale by then are dropped there), so count its groups, and require
      // that some update made several steps: the ratios left 1 within it.
      for (const u of updates) expect(u.optimizerSteps).toBe(u.groups);
      expect(Math.max(...updates.map((u) => u.optimizerSteps))).toBeGreaterThan(1);
      // Compared only where rollout and learner share the policy version (sync mode: at least the first).
      const compared = updates.filter((u) => u.metrics.rollout_logp_diff_tokens > 0);
      expect(compared.length).toBeGreaterThan(0);
      for (const u of compared) expect(u.metrics.rollout_logp_diff_max).toBeLessThanOrEqual(1e-3);
      expect(updates.some((u) => u.metrics.clip_frac_low > 0 || u.metrics.clip_frac_high > 0)).toBe(true);
    });
  }
});
