// bench/results/gpu/h100-run*.json (bench/gpu/run-on-device.sh on a GPU node): docs/BENCHMARKS.md,
// "Model engine on a GPU node". Decode figures come from run 1, training figures from run 2.
import { fixed, grouped } from "../support/format.js";
import type { View } from "./view.js";

type Rate = { tokensPerSecond?: number; tokens_per_s?: number; skipped?: string };
type Step = { median: number };
interface Gpu {
  configs: Record<string, {
    params: number;
    parity?: { webgpu: Record<"logits" | "prefillLogits" | "worstGradient", { relative: number }>; webgpu_decode: { worst: { relative: number } } };
    decode?: Record<string, Record<string, Rate>>;
    train?: Record<string, Rate & { forwardBackwardSeconds?: Step; adamwSeconds?: Step }>;
  }>;
  services: { webgpu: {
    rollout: { greedy: { identical: number; sequences: number }; sampled: { identical: number; sequences: number; maxLogprobDiff: number } };
    learner: { records: { lossRelDiff: number; gradNormRelDiff: number }[]; worstUpdate: { relative: number; maxAbsDiff: number } };
    pass: boolean;
  } };
}

const exp = (x: number) => x.toExponential(1);
const rate = (r: Rate | undefined): number | null => (r && !r.skipped ? (r.tokensPerSecond ?? r.tokens_per_s ?? null) : null);
const tokens = (x: number | null) => (x === null ? "-" : x < 10 ? x.toFixed(0) : grouped(x, ""));
/** A speed-up: two decimals below 1, one below 10, whole above. */
const ratio = (a: number | null, b: number | null, digits?: number) => {
  if (a === null || b === null) return "-";
  const r = a / b;
  return `${r.toFixed(digits ?? (r < 10 ? 1 : 0))}x`;
};
const configName = (name: string, params: number) => (name === "demo" ? `demo (${(params / 1e6).toFixed(2)}M)` : name);
const BATCHES = [1, 16, 64, 256];

export const views: Record<string, View> = {
  parity: (d: Gpu) => ({
    table: [
      ["config", "forward logits", "prefill logits", "worst gradient", "decode, 8 steps, state on the GPU"],
      ...Object.entries(d.configs).flatMap(([n, c]) => {
        if (!c.parity) return [];
        const p = c.parity.webgpu;
        return [[configName(n, c.params), exp(p.logits.relative), exp(p.prefillLogits.relative), exp(p.worstGradient.relative), exp(c.parity.webgpu_decode.worst.relative)]];
      }),
    ],
  }),
  services: (d: Gpu) => {
    const s = d.services.webgpu;
    const max = (f: (r: { lossRelDiff: number; gradNormRelDiff: number }) => number) => Math.max(...s.learner.records.map(f));
    return {
      quotes: [
        `Greedy gave ${s.rollout.greedy.identical}/${s.rollout.greedy.sequences} identical sequences`,
        `also gave ${s.rollout.sampled.identical}/${s.rollout.sampled.sequences}, with the largest per-token log-prob gap at ${exp(s.rollout.sampled.maxLogprobDiff)}`,
        `at most ${exp(max((r) => r.lossRelDiff))} relative`,
        `gradient norm by ${exp(max((r) => r.gradNormRelDiff))}`,
        `up to ${exp(s.learner.worstUpdate.maxAbsDiff)} in absolute terms`,
        `${(s.learner.worstUpdate.relative * 100).toFixed(0)}% of the largest update`,
      ],
    };
  },
  decode: (d: Gpu) => ({
    table: [
      ["config", "batch", "cpu (16 cores)", "webgpu", "webgpu, host state", "PyTorch eager (CUDA)", "webgpu / cpu", "state on GPU vs host"],
      ...Object.entries(d.configs).flatMap(([n, c]) =>
        c.decode
          ? BATCHES.map((b) => {
              const [cpu, gpu, host, torch] = ["cpu", "webgpu", "webgpu-host-state", "pytorch"].map((p) => rate(c.decode![p]?.[`batch_${b}`]));
              return [n, `${b}`, tokens(cpu), tokens(gpu), tokens(host), tokens(torch), ratio(gpu, cpu, 2), ratio(gpu, host)];
            })
          : [],
      ),
    ],
  }),
  train: (d: Gpu) => ({
    table: [
      ["config", "cpu", "webgpu", "webgpu, host state", "PyTorch eager (CUDA)", "webgpu / cpu", "state on GPU vs host"],
      ...Object.entries(d.configs).flatMap(([n, c]) => {
        if (!c.train) return [];
        const [cpu, gpu, host, torch] = ["cpu", "webgpu", "webgpu-host-state", "pytorch"].map((p) => rate(c.train![p]));
        return [[n, tokens(cpu), tokens(gpu), tokens(host), tokens(torch), ratio(gpu, cpu, 2), ratio(gpu, host, 2)]];
      }),
    ],
  }),
  "train-split": (d: Gpu) => ({
    table: [
      ["config", "cpu: fwd+bwd / AdamW", "webgpu: fwd+bwd / AdamW", "webgpu, host state: fwd+bwd / AdamW"],
      ...Object.entries(d.configs).flatMap(([n, c]) =>
        c.train ? [[n, ...["cpu", "webgpu", "webgpu-host-state"].map((p) => `${fixed(c.train![p].forwardBackwardSeconds!.median, 3)} / ${fixed(c.train![p].adamwSeconds!.median, 3)}`)]] : [],
      ),
    ],
  }),
  "decode-reading": (d: Gpu) => {
    const c = d.configs["25M"].decode!;
    const gains = Object.values(d.configs).flatMap((x) => (x.decode ? BATCHES.map((b) => (rate(x.decode!.webgpu[`batch_${b}`]) ?? 0) / (rate(x.decode!["webgpu-host-state"][`batch_${b}`]) ?? Infinity)) : []));
    const slower = Object.values(d.configs).flatMap((x) => (x.decode ? BATCHES.map((b) => rate(x.decode!.cpu[`batch_${b}`])! / rate(x.decode!.webgpu[`batch_${b}`])!) : []));
    const stepMs = (p: string) => `${(1000 / rate(c[p].batch_1)!).toFixed(p === "cpu" ? 1 : 0)} ms`;
    return {
      quotes: [
        `up to ${Math.max(...gains).toFixed(0)}x`,
        `${Math.min(...slower).toFixed(1)}-${Math.max(...slower).toFixed(0)}x slower than the CPU provider`,
        `costs ${stepMs("webgpu")}, against ${stepMs("cpu")} on the CPU`,
      ],
    };
  },
  "train-reading": (d: Gpu) => {
    const trained = Object.values(d.configs).flatMap((x) => (x.train ? [x.train] : []));
    const r = (a: string, b: string) => trained.map((t) => rate(t[a])! / rate(t[b])!);
    const range = (xs: number[], digits: number[]) => `${Math.min(...xs).toFixed(digits[0])}-${Math.max(...xs).toFixed(digits[1])}x`;
    return {
      quotes: [
        `beats this node's 16 CPU cores by ${range(r("webgpu", "cpu"), [1, 0])}`,
        `${range(r("pytorch", "webgpu"), [0, 0])} behind PyTorch on CUDA`,
        `worth ${range(r("webgpu", "webgpu-host-state"), [1, 1])}`,
      ],
    };
  },
};
