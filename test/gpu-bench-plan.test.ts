// bench/gpu/plan.ts: the GPU benchmark's flags and plan, checked here because the benchmark itself runs once, on a
// device machine, where a flag bug would cost the run.
import { describe, expect, it } from "vitest";
import { BenchArgsError, MODEL_CONFIGS, benchPlan, parseBenchArgs } from "../bench/gpu/plan.js";
import { nodePlacement, parsePlacement } from "../bench/gpu/placement.js";
import { parameterCount } from "@lspo/model";

describe("gpu-bench flags", () => {
  it("defaults: cpu and webgpu, full plan, output under $OUT when set", () => {
    const o = parseBenchArgs([], { OUT: "/out" });
    expect(o).toEqual({ providers: ["cpu", "webgpu"], quick: false, out: "/out/gpu-bench.json", threads: 0, budgetSeconds: 270, torch: "auto", python: "python3", probeOnly: false, configs: null, sections: ["services", "parity", "placement", "decode", "train", "decode-goals"] });
    expect(parseBenchArgs([], {}).out).toBe("bench/results/gpu-bench.json");
    expect(parseBenchArgs(["--quick"]).budgetSeconds).toBe(90);
  });

  it("reads every flag", () => {
    const o = parseBenchArgs(["--providers", "cpu", "--quick", "--out", "x.json", "--threads", "4", "--budget-s", "12.5", "--torch", "off", "--python", "/usr/bin/python3", "--probe-only", "--configs", "demo", "--sections", "train,services"]);
    expect(o).toEqual({ providers: ["cpu"], quick: true, out: "x.json", threads: 4, budgetSeconds: 12.5, torch: "off", python: "/usr/bin/python3", probeOnly: true, configs: ["demo"], sections: ["train", "services"] });
  });

  it.each([
    [["--gpu"], /--gpu/],
    [["--providers", "cpu,metal"], /unknown provider 'metal'; valid: cpu, webgpu, cuda/],
    [["--providers", "cpu,cpu"], /names a provider twice/],
    [["--providers", ","], /--providers: empty/],
    [["--threads=-1"], /--threads: '-1'/],
    [["--threads", "1.5"], /--threads: '1.5' is not a whole number/],
    [["--budget-s", "0"], /--budget-s: '0'/],
    [["--torch", "yes"], /--torch: 'yes' is not one of auto, cuda, cpu, off/],
    [["--configs", "150M", "--quick"], /--configs: unknown config '150M'; this mode's: demo/],
    [["--sections", "train,speed"], /--sections: unknown section 'speed'; valid: services, parity, placement, decode, train, decode-goals/],
    [["positional"], /positional/],
  ])("rejects %j naming what is wrong", (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchArgsError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe("gpu-bench plan", () => {
  it("full mode: parity on demo and 25M, decode at batch 1/16/64/256 and training on 25M and 150M (the issue's table)", () => {
    const plan = benchPlan(false);
    expect(plan.filter((p) => p.parity).map((p) => p.name)).toEqual(["demo", "25M"]);
    for (const name of ["25M", "150M"]) {
      const p = plan.find((x) => x.name === name)!;
      expect(p.decode?.batches).toEqual([1, 16, 64, 256]);
      expect(p.train).not.toBeNull();
    }
  });

  it("configs are the sizes their names say", () => {
    expect(parameterCount(MODEL_CONFIGS["25M"]) / 1e6).toBeCloseTo(25, -1);
    const p150 = parameterCount(MODEL_CONFIGS["150M"]) / 1e6;
    expect(p150).toBeGreaterThan(140);
    expect(p150).toBeLessThan(160);
    for (const p of benchPlan(true)) expect(MODEL_CONFIGS[p.name]).toBeDefined();
    for (const p of benchPlan(false)) expect(MODEL_CONFIGS[p.name]).toBeDefined();
  });
});

describe("gpu-bench node placement", () => {
  const line = (text: string) => `2026-12-05 03:00:00.1 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp] ${text}`;

  it("reads the node counts per provider and the nodes that fell back to the CPU from onnxruntime's verbose report", () => {
    const stderr = [
      "2026-12-05 03:00:00.0 [V:onnxruntime:, inference_session.cc:1 Init] something else",
      line("Node placements"),
      line(" Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 210"),
      line("  MatMul (/attn/MatMul)"),
      line(" Node(s) placed on [CPUExecutionProvider]. Number of nodes: 2"),
      line("  Range (range_0)"),
      line("  Shape (shape_3)"),
    ].join("\n");
    const p = parsePlacement(stderr, "webgpu");
    expect(p.nodesByProvider).toEqual({ WebGpuExecutionProvider: 210, CPUExecutionProvider: 2 });
    expect(p.cpuFallbacks).toEqual(["Range (range_0)", "Shape (shape_3)"]);
    expect(p.report[0]).toBe("Node placements");
  });

  it("all nodes on one provider: no fallbacks; no report at all is an error, not an empty placement", () => {
    expect(parsePlacement(line(" All nodes placed on [CPUExecutionProvider]. Number of nodes: 65"), "cpu")).toMatchObject({ nodesByProvider: { CPUExecutionProvider: 65 }, cpuFallbacks: [] });
    expect(() => parsePlacement("nothing verbose here", "webgpu")).toThrow(/no 'Node placements' report/);
  });

  it("a real session's report, from a child process on the cpu provider", () => {
    const cfg = MODEL_CONFIGS.demo;
    const entry = new URL("../bench/gpu/gpu-bench.ts", import.meta.url).pathname;
    const p = nodePlacement("cpu", "slot-decode", cfg, { entry, execArgv: ["--conditions=source", "--import", "tsx"] });
    expect(Object.keys(p.nodesByProvider)).toEqual(["CPUExecutionProvider"]);
    expect(p.nodesByProvider.CPUExecutionProvider).toBeGreaterThan(cfg.numLayers * 10);
  });
});
