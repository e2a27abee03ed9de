// The GPU benchmark rehearsed on the CPU, as a device session runs it first (`--providers cpu --quick`): every
// section on the demo model, and not one measurement may fail. A device machine is lent for minutes, rarely;
// a kit that broke since the last one (the decode parity's reference took the in-place slot cache after the
// slot cache became the host default, and failed every run) would spend them. Real ORT sessions.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");
const tsx = createRequire(import.meta.url).resolve("tsx");

describe("gpu-bench rehearsal on the CPU", { timeout: 180_000 }, () => {
  it("runs every section on the demo model with no failed measurement, parity passing", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-gpu-rehearsal-"));
    try {
      const out = join(dir, "gpu-bench.json");
      const run = spawnSync(process.execPath, ["--conditions=source", "--import", tsx, "bench/gpu/gpu-bench.ts", "--providers", "cpu", "--quick", "--torch", "off", "--out", out], { cwd: root, encoding: "utf8" });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      const demo = JSON.parse(readFileSync(out, "utf8")).configs.demo;
      expect(demo.parity["cpu-other-threads"].pass).toBe(true);
      expect(demo.parity["cpu-other-threads_decode"]).toMatchObject({ steps: 8, stateOnDevice: true, pass: true });
      for (const graph of ["slot-decode", "slot-decode-greedy"]) expect(demo.placement.cpu[graph].nodesByProvider.CPUExecutionProvider, graph).toBeGreaterThan(0);
      for (const B of ["batch_1", "batch_16"]) expect(demo.decode.cpu[B].tokensPerSecond).toBeGreaterThan(0);
      expect(demo.train.cpu).not.toHaveProperty("error");
      // Issue 22's CPU goals: ours measured (the peer is off here, so no ratio and no speed-up verdict).
      expect(demo.decodeGoals.runs[0].tokensPerS.ours["4"]).toBeGreaterThan(0);
      expect(demo.decodeGoals.farOverNear.ours.median).toBeGreaterThan(0);
      expect(demo.decodeGoals.speedups).toEqual([{ batch: 4, oursOverTorch: null, verdict: "no PyTorch peer" }]);
      expect(demo.decodeGoals.runs[0].rowsIdentical).toEqual({ "4": null }); // nothing to compare the tokens with
      expect(demo.decodeGoals.goals[1].verdict).toMatch(/^(met|not met|not settled)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
