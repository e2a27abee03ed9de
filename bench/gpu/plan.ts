// What the GPU benchmark measures: its flags, the model configs and, per mode, which measurement runs on which
// config. Kept apart from the measuring code so the plan can be tested without onnxruntime.
import { parseArgs } from "node:util";
import type { LlamaConfig } from "@lspo/model";
import type { DecodeGoalsPlan } from "./decode-goals.js";

export const PROVIDER_NAMES = ["cpu", "webgpu", "cuda"] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface BenchOptions {
  providers: ProviderName[];
  quick: boolean;
  /** Where the JSON goes; rewritten after every measurement so a killed run still leaves what it measured. */
  out: string;
  /** Intra-op threads for the CPU provider (0: onnxruntime's choice, one per physical core). */
  threads: number;
  /** Measurements not started by then are recorded as skipped (the device's minutes are few). */
  budgetSeconds: number;
  /** PyTorch eager peer: `auto` on CUDA when the Python has torch with a GPU, else none; `cuda`/`cpu` insist; `off`. */
  torch: "auto" | "cuda" | "cpu" | "off";
  /** The Python that has torch. */
  python: string;
  /** Which of the plan's configs run (all by default). */
  configs: string[] | null;
  /** Only check that each provider starts (a tiny graph), then stop: the device script's first step. */
  probeOnly: boolean;
  /** Which parts run (all by default): a rerun on a GPU node can skip what an earlier run measured. */
  sections: Section[];
}

export const SECTIONS = ["services", "parity", "placement", "decode", "train", "decode-goals"] as const;
export type Section = (typeof SECTIONS)[number];

export class BenchArgsError extends Error {
  override name = "BenchArgsError";
}

const USAGE = "gpu-bench [--providers cpu,webgpu] [--quick] [--configs demo,25M,150M] [--sections services,parity,placement,decode,train,decode-goals] [--out FILE] [--threads N] [--budget-s S] [--torch auto|cuda|cpu|off] [--python PATH] [--probe-only]";

/** Parses argv (flags only); unknown flags and bad values throw naming the flag. `env.OUT` picks the default output. */
export function parseBenchArgs(argv: readonly string[], env: Record<string, string | undefined> = {}): BenchOptions {
  let v;
  try {
    v = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        providers: { type: "string", default: "cpu,webgpu" },
        quick: { type: "boolean", default: false },
        out: { type: "string" },
        threads: { type: "string", default: "0" },
        "budget-s": { type: "string" },
        torch: { type: "string", default: "auto" },
        python: { type: "string", default: "python3" },
        "probe-only": { type: "boolean", default: false },
        configs: { type: "string" },
        sections: { type: "string", default: SECTIONS.join(",") },
      },
    }).values;
  } catch (e) {
    throw new BenchArgsError(`${(e as Error).message}\nusage: ${USAGE}`);
  }
  const providers = v.providers.split(",").map((s) => s.trim()).filter(Boolean);
  if (!providers.length) throw new BenchArgsError(`--providers: empty; valid: ${PROVIDER_NAMES.join(", ")}`);
  for (const p of providers) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(p)) throw new BenchArgsError(`--providers: unknown provider '${p}'; valid: ${PROVIDER_NAMES.join(", ")}`);
  }
  if (new Set(providers).size !== providers.length) throw new BenchArgsError(`--providers: '${v.providers}' names a provider twice`);
  const threads = Number(v.threads);
  if (!Number.isInteger(threads) || threads < 0) throw new BenchArgsError(`--threads: '${v.threads}' is not a whole number >= 0`);
  const budget = Number(v["budget-s"] ?? (v.quick ? 90 : 270));
  if (!Number.isFinite(budget) || budget <= 0) throw new BenchArgsError(`--budget-s: '${v["budget-s"]}' is not a positive number of seconds`);
  const torchModes = ["auto", "cuda", "cpu", "off"] as const;
  const torch = torchModes.find((m) => m === v.torch);
  if (!torch) throw new BenchArgsError(`--torch: '${v.torch}' is not one of ${torchModes.join(", ")}`);
  let configs: string[] | null = null;
  if (v.configs !== undefined) {
    configs = v.configs.split(",").map((s) => s.trim()).filter(Boolean);
    const known = benchPlan(v.quick).map((p) => p.name);
    const bad = configs.filter((c) => !known.includes(c));
    if (!configs.length || bad.length) throw new BenchArgsError(`--configs: ${bad.length ? `unknown config '${bad[0]}'` : "empty"}; this mode's: ${known.join(", ")}`);
  }
  const sections = v.sections.split(",").map((x) => x.trim()).filter(Boolean);
  const badSection = sections.find((x) => !(SECTIONS as readonly string[]).includes(x));
  if (!sections.length || badSection) throw new BenchArgsError(`--sections: ${badSection ? `unknown section '${badSection}'` : "empty"}; valid: ${SECTIONS.join(", ")}`);
  const out = v.out ?? (env.OUT ? `${env.OUT}/gpu-bench.json` : "bench/results/gpu-bench.json");
  return { providers: providers as ProviderName[], quick: v.quick, out, threads, budgetSeconds: budget, torch, python: v.python, probeOnly: v["probe-only"], configs, sections: sections as Section[] };
}

function llama(vocab: number, D: number, I: number, L: number, H: number, K: number): LlamaConfig {
  return {
    modelType: "llama", vocabSize: vocab, hiddenSize: D, intermediateSize: I, numLayers: L, numHeads: H, numKvHeads: K,
    headDim: D / H, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 2048, tieWordEmbeddings: true,
    attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
  };
}

/** "demo" is configs/models/demo-base's shape; "25M" is bench/model.ts's; "150M" is a GPT-2-small-like width. */
export const MODEL_CONFIGS: Record<string, LlamaConfig> = {
  demo: llama(287, 96, 256, 4, 4, 2),
  "25M": llama(8192, 512, 1408, 7, 8, 4),
  "150M": llama(16384, 1024, 2816, 12, 16, 8),
};

export interface ConfigPlan {
  name: string;
  /** Forward logits, one prefill step's logits and one training step's gradients, each provider vs cpu. */
  parity: { batch: number; seq: number } | null;
  /** Decode: prefill `prompt` tokens, then `steps` one-token steps, at each batch size. */
  decode: { batches: number[]; prompt: number; steps: number } | null;
  /** Learner: `steps` timed training steps (after one warm-up) on one batch of batch x seq tokens. */
  train: { batch: number; seq: number; steps: number } | null;
  /** Issue 22's CPU goals on this machine's cores: ours in place vs the fair PyTorch CPU peer (decode-goals.ts). */
  decodeGoals: DecodeGoalsPlan | null;
}

/** Issue 22's goals: 3x PyTorch CPU eager at 25M batch 16 and 64; the step at P ≈ 1024 at most 1.3x the one at 128. */
const ISSUE_22_GOALS = { speedup: 3, flatSteps: 1.3 };

/** Quick proves the path end to end in well under a minute on CPU; the full plan fits ~5 minutes on a GPU node. */
export function benchPlan(quick: boolean): ConfigPlan[] {
  if (quick) {
    return [{
      name: "demo", parity: { batch: 3, seq: 12 }, decode: { batches: [1, 16], prompt: 8, steps: 8 }, train: { batch: 4, seq: 32, steps: 2 },
      decodeGoals: { batches: [4], prompt: 8, newTokens: 12, position: { batch: 4, newTokens: 40, near: 16, far: 40, halfWidth: 4 }, runs: 1, goals: ISSUE_22_GOALS },
    }];
  }
  return [
    { name: "demo", parity: { batch: 4, seq: 32 }, decode: null, train: null, decodeGoals: null },
    {
      name: "25M", parity: { batch: 4, seq: 64 }, decode: { batches: [1, 16, 64, 256], prompt: 32, steps: 16 }, train: { batch: 8, seq: 128, steps: 3 },
      // As `npm run bench -- decode` measures the goals on the 2-core machine: 64-token prompts, 256 new tokens,
      // and 1,024 new tokens for the step's growth, 2 runs.
      decodeGoals: { batches: [16, 64], prompt: 64, newTokens: 256, position: { batch: 16, newTokens: 1024, near: 128, far: 1024, halfWidth: 16 }, runs: 2, goals: ISSUE_22_GOALS },
    },
    { name: "150M", parity: null, decode: { batches: [1, 16, 64, 256], prompt: 32, steps: 16 }, train: { batch: 8, seq: 256, steps: 2 }, decodeGoals: null },
  ];
}

export { USAGE };
