// The GPU measurement in one run (issue 10): for each provider on this machine (cpu and webgpu by default),
// parity with the CPU provider (forward logits, a prefill step's logits, one training step's gradients), decode
// tokens/s at batch 1/16/64/256 and learner tokens/s on the ~25M and ~150M configs, and PyTorch eager on CUDA as
// the peer where python3 has torch with a GPU; and issue 22's CPU goals on this machine's cores (decode-goals.ts:
// ours in place vs the fair PyTorch CPU peer). A provider that does not start is recorded with its error and
// skipped. Writes one JSON (rewritten after every measurement) and prints a table.
// Run here: `npx tsx bench/gpu/gpu-bench.ts --providers cpu --quick`; on a GPU node through the kit that
// bench/gpu/pack.mjs builds and bench/gpu/run-on-device.sh runs (bench/README.md, "GPU kit").
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import { type LlamaConfig, OnnxDecoder, initModel, parameterCount } from "@lspo/model";
import * as ort from "onnxruntime-node";
import { type ParityOutputs, compareParity, decodeParity, generateRate, lossBatch, parityOutputs, probe, trainRate } from "./measure.js";
import { servicesCheck } from "./services-check.js";
import { decodeGoals } from "./decode-goals.js";
import { PLACEMENT_GRAPHS, type PlacementGraph, nodePlacement, placementChild } from "./placement.js";
import { BenchArgsError, type BenchOptions, type ConfigPlan, MODEL_CONFIGS, type ProviderName, benchPlan, parseBenchArgs } from "./plan.js";

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

function sh(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machineInfo() {
  return {
    gpu: sh("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]) ?? "none: nvidia-smi absent or failed",
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    onnxruntime: ort.env.versions,
    env: Object.fromEntries(["VK_DRIVER_FILES", "__EGL_VENDOR_LIBRARY_FILENAMES", "LD_LIBRARY_PATH"].map((k) => [k, process.env[k] ?? null])),
  };
}

/** The shared libraries WebGPU needs on Linux/NVIDIA (Vulkan loader + glvnd) and the ICD file: found where, or missing. */
const WEBGPU_LIBS = ["libvulkan.so.1", "libEGL.so.1", "libGLX.so.0", "libGLdispatch.so.0", "libOpenGL.so.0", "libGL.so.1", "libGLESv2.so.2"];

function webgpuPrerequisites(): { missing: string[]; found: Record<string, string> } {
  const cache = sh("ldconfig", ["-p"]) ?? sh("/sbin/ldconfig", ["-p"]) ?? "";
  const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const lib of WEBGPU_LIBS) {
    const dir = dirs.find((d) => existsSync(`${d}/${lib}`));
    const inCache = cache.split("\n").find((l) => l.trim().startsWith(`${lib} `));
    if (dir) found[lib] = `${dir}/${lib}`;
    else if (inCache) found[lib] = inCache.split("=>").pop()!.trim();
    else missing.push(lib);
  }
  const icd = process.env.VK_DRIVER_FILES;
  if (!icd) missing.push("VK_DRIVER_FILES (unset: the Vulkan loader may not find the NVIDIA ICD)");
  else if (!existsSync(icd)) missing.push(`VK_DRIVER_FILES=${icd} (no such file)`);
  return { missing, found };
}

/** `imports`: torch imports in o.python (the CPU-only decode goals need no more), whether or not it is the peer. */
type Torch = ({ ok: true; device: "cuda" | "cpu"; what: string } | { ok: false; why: string }) & { imports: boolean };

/** Which PyTorch peer runs: the Python's torch on CUDA (auto, cuda) or on CPU (cpu), or why none. */
function torchPeerDevice(o: BenchOptions): Torch {
  if (o.torch === "off") return { ok: false, why: "--torch off", imports: false };
  const r = spawnSync(o.python, ["-c", "import torch; ok=torch.cuda.is_available(); print(torch.__version__, ok, torch.cuda.get_device_name(0) if ok else '')"], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) return { ok: false, why: `${o.python} cannot import torch: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`, imports: false };
  const [version, cuda, ...gpu] = r.stdout.trim().split(" ");
  if (o.torch === "cpu") return { ok: true, device: "cpu", what: `torch ${version} on cpu`, imports: true };
  if (cuda === "True") return { ok: true, device: "cuda", what: `torch ${version} on ${gpu.join(" ")}`, imports: true };
  return { ok: false, why: `torch ${version} in ${o.python} sees no CUDA device${o.torch === "cuda" ? " (--torch cuda)" : ""}`, imports: true };
}

type Json = Record<string, unknown>;

class Report {
  readonly data: Json;
  /** Where the run is (config, section), for the `running` marker. */
  context = "";
  /** Measurements that threw (their errors are in the JSON). */
  errors = 0;
  private readonly started = performance.now();
  constructor(
    private readonly o: BenchOptions,
    argv: string[],
  ) {
    this.data = { command: `gpu-bench ${argv.join(" ")}`.trim(), date: new Date().toISOString(), options: o, machine: machineInfo(), providers: {}, configs: {} };
  }
  get elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }
  /** True (and records why) once the time budget is spent. */
  overBudget(into: Json, key: string): boolean {
    if (this.elapsed < this.o.budgetSeconds) return false;
    into[key] = { skipped: `time budget of ${this.o.budgetSeconds} s spent (${this.elapsed.toFixed(0)} s elapsed)` };
    return true;
  }
  save(): void {
    this.data.seconds = +this.elapsed.toFixed(1);
    mkdirSync(dirname(resolve(this.o.out)), { recursive: true });
    writeFileSync(this.o.out, JSON.stringify(this.data, null, 2) + "\n");
  }
}

/** Runs f, storing its result or its error under into[key]; then saves the report. */
async function record<T>(r: Report, into: Json, key: string, f: () => Promise<T>): Promise<T | null> {
  if (r.overBudget(into, key)) return null;
  // Saved before the measurement starts: if the process dies inside native code, the JSON still says where.
  r.data.running = `${r.context} ${key}`.trim();
  r.data.runningSince = +r.elapsed.toFixed(1);
  r.save();
  try {
    const v = await f();
    into[key] = v;
    return v;
  } catch (e) {
    into[key] = { error: errorText(e) };
    r.errors++;
    console.log(`  ${key}: ERROR ${errorText(e)}`);
    return null;
  } finally {
    delete r.data.running;
    delete r.data.runningSince;
    r.save();
  }
}

async function main(argv: string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(argv, process.env);
  } catch (e) {
    if (e instanceof BenchArgsError) {
      console.error(`gpu-bench: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const r = new Report(o, argv);
  console.log(`gpu-bench: ${JSON.stringify(r.data.machine)}`);
  const providers = r.data.providers as Json;
  const live: ProviderName[] = [];
  r.context = "probe";
  for (const p of o.providers) {
    const res = await record(r, providers, p, async () => {
      try {
        return await probe({ provider: p, threads: o.threads });
      } catch (e) {
        if (p !== "webgpu") throw e;
        const pre = webgpuPrerequisites();
        const err = new Error(`${(e instanceof Error ? e.message : String(e)).trim()} | missing: ${pre.missing.join(", ") || "nothing we check for"} | found: ${JSON.stringify(pre.found)}`);
        err.name = e instanceof Error ? e.name : "Error";
        throw err;
      }
    });
    console.log(`  provider ${p}: ${res ? `starts (${res.seconds.toFixed(2)} s, 64x64 matmul max abs diff ${res.maxAbsDiff.toExponential(1)})` : "UNAVAILABLE"}`);
    if (res) live.push(p);
  }
  if (o.probeOnly) return live.length === o.providers.length ? 0 : 1;
  if (!live.length) {
    console.log(`\nno provider starts; nothing to measure (errors in ${o.out})`);
    return 1;
  }
  const torch = torchPeerDevice(o);
  r.data.torch = torch.ok ? torch.what : { skipped: torch.why };
  const gpuSide = live.filter((p) => p !== "cpu");
  if (live.includes("cpu") && o.sections.includes("services")) {
    r.context = "services";
    await record(r, r.data, "services", () => servicesCheck(live));
  }
  for (const plan of benchPlan(o.quick).filter((p) => !o.configs || o.configs.includes(p.name))) {
    const cfg: LlamaConfig = MODEL_CONFIGS[plan.name];
    const c: Json = { params: parameterCount(cfg), config: cfg, plan };
    (r.data.configs as Json)[plan.name] = c;
    console.log(`\n${plan.name}: ${(parameterCount(cfg) / 1e6).toFixed(2)}M params (V ${cfg.vocabSize}, D ${cfg.hiddenSize}, I ${cfg.intermediateSize}, L ${cfg.numLayers}, H ${cfg.numHeads}/${cfg.numKvHeads})`);
    const w = initModel(cfg, 0);
    if (plan.parity && o.sections.includes("parity")) {
      r.context = `${plan.name} parity`;
      const par: Json = (c.parity = {});
      const batch = lossBatch(cfg, plan.parity.batch, plan.parity.seq, true);
      // With no GPU provider, cpu on another thread count stands in for the other side: a different reduction
      // split, so the comparison code still runs and its numbers mean something.
      const sides: { name: string; provider: ProviderName; threads: number }[] = gpuSide.length
        ? gpuSide.map((p) => ({ name: p, provider: p, threads: 0 }))
        : [{ name: "cpu-other-threads", provider: "cpu", threads: o.threads === 1 ? 2 : 1 }];
      let ref: ParityOutputs | null = null;
      if (!live.includes("cpu")) par.skipped = "parity needs the cpu provider as the reference";
      else {
        await record(r, par, "cpu_reference", async () => {
          ref = await parityOutputs(cfg, w, batch, { provider: "cpu", threads: o.threads });
          return { loss: ref.loss, logits: ref.logits.length, gradients: ref.grads.size };
        });
      }
      for (const s of ref ? sides : []) {
        const cmp = await record(r, par, s.name, async () => compareParity(ref!, await parityOutputs(cfg, w, batch, s)));
        if (cmp) console.log(`  parity ${s.name} vs cpu: max abs diff / scale: logits ${cmp.logits.relative.toExponential(1)}, prefill ${cmp.prefillLogits.relative.toExponential(1)}, worst grad ${cmp.worstGradient.relative.toExponential(1)} (${cmp.worstGradient.param}) -> ${cmp.pass ? "PASS" : "FAIL"}`);
        const dp = await record(r, par, `${s.name}_decode`, () => decodeParity(cfg, w, batch, s, 8));
        if (dp) console.log(`  decode parity ${s.name} (state on device: ${dp.stateOnDevice}) vs cpu over ${dp.steps} steps: worst logits ${dp.worst.relative.toExponential(1)} at step ${dp.worst.step} -> ${dp.pass ? "PASS" : "FAIL"}`);
      }
    }
    if (plan.decode && o.sections.includes("placement")) {
      // Which nodes of the decode graphs each GPU provider runs, and which fall back to the CPU (cpu alone when
      // no GPU provider starts, so the path is exercised).
      const pl: Json = (c.placement = {});
      for (const p of gpuSide.length ? gpuSide : live) {
        pl[p] = {};
        for (const graph of Object.keys(PLACEMENT_GRAPHS) as PlacementGraph[]) {
          r.context = `${plan.name} placement ${p} ${graph}`;
          const m = await record(r, pl[p] as Json, graph, async () => nodePlacement(p, graph, cfg));
          if (m) console.log(`  placement ${p} ${graph}: ${JSON.stringify(m.nodesByProvider)}${m.cpuFallbacks.length ? `; on the CPU: ${m.cpuFallbacks.join(", ")}` : ""}`);
        }
      }
    }
    if (plan.decode && o.sections.includes("decode")) {
      // Providers interleaved at each batch size, so a pair of numbers is measured minutes apart at most.
      // Each provider with its default state placement (webgpu: weights and KV cache on the GPU), and a GPU
      // provider once more with both fed from the host every step: what keeping them on the device saves.
      const dec: Json = (c.decode = {});
      const decoders = new Map<string, OnnxDecoder>();
      const variants = live.flatMap((p): { name: string; provider: ProviderName; keep: boolean }[] => (p === "cpu" ? [{ name: p, provider: p, keep: false }] : [{ name: p, provider: p, keep: true }, { name: `${p}-host-state`, provider: p, keep: false }]));
      for (const v of variants) {
        r.context = `${plan.name} decode ${v.name}`;
        dec[v.name] = {};
        await record(r, dec[v.name] as Json, "session", async () => {
          const t0 = performance.now();
          decoders.set(v.name, await OnnxDecoder.create(cfg, w, { provider: v.provider, keepOnDevice: v.keep, ...(v.provider === "cpu" && o.threads ? { threads: o.threads } : {}) }));
          return { createSeconds: (performance.now() - t0) / 1000 };
        });
      }
      for (const B of plan.decode.batches) {
        for (const [name, d] of decoders) {
          r.context = `${plan.name} decode ${name}`;
          const m = await record(r, dec[name] as Json, `batch_${B}`, () => generateRate(d, cfg, B, plan.decode!.prompt, plan.decode!.steps));
          if (m) console.log(`  decode ${name} batch ${B}: ${m.tokensPerSecond.toFixed(0)} tokens/s (step ${(m.stepSeconds * 1000).toFixed(1)} ms, prefill + 1 token ${m.prefillSeconds.toFixed(2)} s)`);
        }
      }
      for (const d of decoders.values()) await d.release();
      r.context = `${plan.name} decode`;
      if (torch.ok) await record(r, dec, "pytorch", async () => python(o.python, "bench/gpu/torch_decode.py", [JSON.stringify({ config: cfg, ...plan.decode, device: torch.device })]));
      else dec.pytorch = { skipped: torch.why };
    }
    if (plan.train && o.sections.includes("train")) {
      // As decode: each provider with its default state placement (webgpu: parameters, moments and gradients on
      // the GPU, AdamW there), and a GPU provider once more fed from the host with AdamW in JS.
      const tr: Json = (c.train = {});
      r.context = `${plan.name} train`;
      const variants = live.flatMap((p): { name: string; provider: ProviderName; keep: boolean }[] => (p === "cpu" ? [{ name: p, provider: p, keep: false }] : [{ name: p, provider: p, keep: true }, { name: `${p}-host-state`, provider: p, keep: false }]));
      for (const v of variants) {
        const m = await record(r, tr, v.name, () => trainRate(cfg, w, plan.train!, { provider: v.provider, threads: o.threads }, v.keep));
        if (m) console.log(`  train ${v.name} B ${plan.train.batch} x T ${plan.train.seq}: ${m.tokensPerSecond.toFixed(0)} tokens/s (step ${m.stepSeconds.median.toFixed(3)} s: forward+backward ${m.forwardBackwardSeconds.median.toFixed(3)}, AdamW ${m.adamwSeconds.median.toFixed(3)})`);
      }
      if (torch.ok) await record(r, tr, "pytorch", async () => torchPeer(o, torch.device, cfg, plan.train!));
      else tr.pytorch = { skipped: torch.why };
    }
    if (plan.decodeGoals && o.sections.includes("decode-goals")) {
      // Issue 22's CPU goals on this machine's cores, against the fair CPU peer (any torch will do: it runs on the CPU).
      r.context = `${plan.name} decode goals`;
      if (!live.includes("cpu")) c.decodeGoals = { skipped: "the cpu provider does not start" };
      else {
        const threads = o.threads || Math.min(availableParallelism(), 16);
        const python = torch.imports ? o.python : null;
        const g = await record(r, c, "decodeGoals", () => decodeGoals(cfg, w, plan.decodeGoals!, { threads, python, root: process.cwd(), log: (line) => console.log(line) }));
        for (const goal of g?.goals ?? []) console.log(`  goal: ${goal.goal}: ${goal.verdict}`);
      }
    }
  }
  printTable(r.data);
  r.save();
  console.log(`\nwrote ${o.out} in ${r.elapsed.toFixed(0)} s${r.errors ? `; ${r.errors} measurement(s) failed, their errors are in it` : ""}`);
  return r.errors ? 1 : 0;
}

/** Runs a repository Python script (paths from the repository root, the working directory) and parses its last line. */
function python(py: string, script: string, args: string[]): Json {
  for (const f of [script, ...args.filter((a) => a.endsWith(".py"))]) if (!existsSync(resolve(f))) throw new Error(`${resolve(f)} not found (run from the repository root)`);
  const res = spawnSync(py, [resolve(script), ...args], { encoding: "utf8", timeout: 240_000 });
  const line = (res.stdout ?? "").trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Json;
  } catch {
    throw new Error(`${py} ${script} exited ${res.status ?? res.signal}: ${(res.stderr ?? res.error?.message ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  }
}

/** PyTorch eager learner step: bench/model_torch.py (the CPU peer of bench/model.ts), on the GPU through torch_cuda.py. */
function torchPeer(o: BenchOptions, device: "cuda" | "cpu", cfg: LlamaConfig, train: { batch: number; seq: number; steps: number }): Json {
  const threads = device === "cpu" ? o.threads || cpus().length : 1;
  const job = JSON.stringify({ config: cfg, batch: train.batch, seq: train.seq, steps: Math.max(3, train.steps), threads });
  const run = device === "cuda" ? python(o.python, "bench/gpu/torch_cuda.py", ["bench/model_torch.py", job]) : python(o.python, "bench/model_torch.py", [job]);
  return { device, threads, ...run };
}

/** Tokens/s per provider and PyTorch, plus each GPU provider's ratio to cpu (measured in this run). */
function printTable(data: Json): void {
  const num = (x: unknown, k: string) => (x && typeof (x as Json)[k] === "number" ? ((x as Json)[k] as number) : null);
  const cell = (v: number | null) => (v === null ? "-" : v.toFixed(0));
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? "-" : `${(a / b).toFixed(2)}x`);
  const providers = Object.keys(data.providers as Json);
  const gpu = providers.filter((p) => p !== "cpu");
  const withCpu = providers.includes("cpu") ? gpu : [];
  // Decode also ran each GPU provider with weights and KV cache fed from the host: its own column.
  const columns = [...providers, ...gpu.map((p) => `${p}-host-state`)];
  console.log(`\npytorch: ${typeof data.torch === "string" ? data.torch : "none"}`);
  console.log(`| config | measurement | ${[...columns, "pytorch", ...withCpu.map((p) => `${p} / cpu`)].join(" | ")} |`);
  console.log(`|${" --- |".repeat(3 + columns.length + withCpu.length)}`);
  const row = (name: string, what: string, at: (p: string) => number | null) => {
    const cells = [...columns.map((p) => cell(at(p))), cell(at("pytorch")), ...withCpu.map((p) => ratio(at(p), at("cpu")))];
    console.log(`| ${name} | ${what} | ${cells.join(" | ")} |`);
  };
  for (const [name, c] of Object.entries(data.configs as Record<string, Json>)) {
    const dec = (c.decode ?? {}) as Record<string, Json>;
    for (const b of c.decode ? (c.plan as ConfigPlan).decode!.batches : []) {
      row(name, `decode tok/s, batch ${b}`, (p) => num(dec[p]?.[`batch_${b}`], "tokensPerSecond"));
    }
    const tr = (c.train ?? {}) as Json;
    if (c.train) row(name, "train tok/s", (p) => num(tr[p], p === "pytorch" ? "tokens_per_s" : "tokensPerSecond"));
  }
}

// `--placement-child <provider> <graph> <config>`: the child process placement.ts starts (the kit bundles one file).
if (process.argv[2] === "--placement-child") await placementChild(process.argv.slice(3));
else process.exitCode = await main(process.argv.slice(2));
