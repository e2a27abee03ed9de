// The PyTorch CPU eager peer of the training run (bench/lib/torch_qwen_step.py), run after it in the same
// bench run on the same shapes and thread count: Debian's python3-torch (`python3`, else /usr/bin/python3).
// Its BLAS matters as much as torch does (Debian's reference libblas3 is ~15x slower than OpenBLAS here), so
// the libraries it mapped are recorded with its numbers.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { root } from "./cli-step.js";
import { checkPeerBlas } from "./torch-blas.js";

export interface TorchJob {
  config: Record<string, unknown>;
  threads: number;
  prompt_len: number;
  new_tokens: number;
  gen_rows: number;
  rows: number;
  seq: number;
  micro_rows: number;
  mini_rows: number;
  steps: number;
  weight_decay: number;
}

/** The Python that imports torch, or null. */
export function torchPython(): string | null {
  for (const py of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(py, ["-c", "import torch"], { encoding: "utf8" }).status === 0) return py;
  }
  return null;
}

export function runTorchPeer(py: string, job: TorchJob): Record<string, unknown> {
  const t0 = performance.now();
  const threads = String(job.threads);
  const r = spawnSync(py, [join(root, "bench/lib/torch_qwen_step.py"), JSON.stringify(job)], {
    cwd: root, encoding: "utf8", maxBuffer: 1 << 24, env: { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads },
  });
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`the PyTorch peer (${py} bench/lib/torch_qwen_step.py) exited ${r.status}: ${(r.stderr ?? r.error?.message ?? "").trim().split("\n").slice(-5).join(" | ")}`);
  }
  checkPeerBlas((out.blas as string[] | undefined) ?? [], `the PyTorch peer (${py} bench/lib/torch_qwen_step.py)`, (out.blas_build as string | null | undefined) ?? null);
  return { ...out, python: py, seconds: (performance.now() - t0) / 1000 };
}
