// PyTorch's side of bench/decode.ts: bench/lib/torch_decode_cpu.py (the fair CPU eager peer; its header says
// what makes it fair) run as a child process on our exact weights, written once per model as one raw float32
// file it maps, and on the same prompts and thread count.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { LlamaConfig, Weights } from "@lspo/model";
import { type Generation, type Step, generationOf } from "./decode-timing.js";
import { checkPeerBlas } from "./torch-blas.js";

/** The repository root, where the peer's script lies. Nothing here imports cli-step.ts (it resolves tsx as it
 *  loads): the GPU kit bundles this file, runs where there is no node_modules, and passes its own root. */
const REPO_ROOT = join(import.meta.dirname, "../..");

export interface WeightsFile {
  path: string;
  /** [name, shape, offset in floats] per tensor, in the file's order. */
  index: [string, number[], number][];
}

/** Writes `w` to `path` back to back (float32, this machine's little-endian) with the index the peer reads. */
export function writeWeightsFile(w: Weights, path: string): WeightsFile {
  const index: WeightsFile["index"] = [];
  const fd = openSync(path, "w");
  try {
    let offset = 0;
    for (const [name, t] of w) {
      const d = t.data as Float32Array;
      index.push([name, [...t.shape], offset]);
      const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 28));
      offset += d.length;
    }
  } finally {
    closeSync(fd);
  }
  return { path, index };
}

export interface TorchJobGeneration {
  prompts: number[][];
  newTokens: number;
  tokens?: boolean;
}

export interface TorchGeneration {
  generation: Generation;
  steps: Step[];
  tokens: number[][] | null;
}

export interface TorchRun {
  torch: string;
  threads: number;
  blas: string[];
  loadSeconds: number;
  generations: TorchGeneration[];
}

interface PeerGeneration {
  batch: number;
  new_tokens: number;
  seconds: number;
  steps: [number, number][];
  tokens?: number[][];
}

/** One peer process: loads the weights, warms up, then runs `generations` in order. Throws with its stderr on
 *  failure. `root`: the repository's root (the GPU kit's bundle passes its working directory). */
export function runTorchPeer(py: string, cfg: LlamaConfig, weights: WeightsFile, threads: number, generations: TorchJobGeneration[], root = REPO_ROOT): TorchRun {
  const job = {
    config: cfg, threads, weights,
    generations: generations.map((g) => ({ prompts: g.prompts, new_tokens: g.newTokens, steps: true, tokens: g.tokens ?? false })),
  };
  const t = String(threads);
  const r = spawnSync(py, [join(root, "bench/lib/torch_decode_cpu.py"), JSON.stringify(job)], {
    cwd: root, encoding: "utf8", maxBuffer: 256 << 20,
    env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t },
  });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  let out: { torch: string; threads: number; blas: string[]; blas_build: string | null; load_seconds: number; generations: PeerGeneration[] };
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`${py} bench/lib/torch_decode_cpu.py exited ${r.status}: ${(r.stderr ?? r.error?.message ?? "").trim().split("\n").slice(-5).join(" | ")}`);
  }
  checkPeerBlas(out.blas, `${py} bench/lib/torch_decode_cpu.py`, out.blas_build ?? null);
  return {
    torch: out.torch, threads: out.threads, blas: out.blas, loadSeconds: out.load_seconds,
    generations: out.generations.map((g) => {
      const steps = g.steps.map(([P, seconds]) => ({ P, seconds }));
      return { generation: generationOf(g.batch, g.new_tokens, g.seconds, steps), steps, tokens: g.tokens ?? null };
    }),
  };
}
