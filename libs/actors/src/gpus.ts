// Which GPUs a node agent hands to its actors. Inside a container the NVIDIA runtime renumbers the GPUs it
// exposes from 0, so what the agent needs is how many there are; the actor's CUDA_VISIBLE_DEVICES is then
// an index in 0..n-1. Sources, first that applies:
//   LSPO_GPU_IDS          explicit indices ("0,1"; "" = none), the override;
//   NVIDIA_VISIBLE_DEVICES what the device plugin exposed: indices or GPU-/MIG- UUIDs (one GPU each),
//                          "none"/"void" = none, "all" = every /dev/nvidiaN device file;
//   /dev/nvidiaN           the device files the runtime mounted.
import { readdirSync } from "node:fs";

export interface DetectedGpus {
  ids: number[];
  /** Where the answer came from, for the agent's start-up line. */
  source: string;
}

function deviceFiles(devDir: string): number {
  try {
    return readdirSync(devDir).filter((f) => /^nvidia\d+$/.test(f)).length;
  } catch {
    return 0;
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function detectGpus(env: NodeJS.ProcessEnv = process.env, devDir = "/dev"): DetectedGpus {
  if (env.LSPO_GPU_IDS !== undefined) {
    const ids = env.LSPO_GPU_IDS.split(",").map((s) => s.trim()).filter(Boolean).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new Error(`LSPO_GPU_IDS: '${s}' is not a GPU index (e.g. LSPO_GPU_IDS=0,1)`);
      return n;
    });
    if (new Set(ids).size !== ids.length) throw new Error(`LSPO_GPU_IDS: '${env.LSPO_GPU_IDS}' names a GPU twice`);
    return { ids, source: "LSPO_GPU_IDS" };
  }
  const visible = env.NVIDIA_VISIBLE_DEVICES?.trim();
  if (visible !== undefined && visible !== "") {
    if (visible === "none" || visible === "void") return { ids: [], source: `NVIDIA_VISIBLE_DEVICES=${visible}` };
    if (visible === "all") return { ids: range(deviceFiles(devDir)), source: `NVIDIA_VISIBLE_DEVICES=all (${devDir}/nvidiaN files)` };
    const entries = visible.split(",").map((s) => s.trim()).filter(Boolean);
    for (const e of entries) {
      if (!/^\d+$/.test(e) && !/^(GPU|MIG)-[0-9A-Za-z-/]+$/.test(e)) throw new Error(`NVIDIA_VISIBLE_DEVICES: '${e}' is neither a GPU index nor a GPU-/MIG- UUID`);
    }
    return { ids: range(entries.length), source: `NVIDIA_VISIBLE_DEVICES=${visible}` };
  }
  const n = deviceFiles(devDir);
  return { ids: range(n), source: n ? `${devDir}/nvidiaN device files` : "none found (no LSPO_GPU_IDS, NVIDIA_VISIBLE_DEVICES or /dev/nvidiaN)" };
}
