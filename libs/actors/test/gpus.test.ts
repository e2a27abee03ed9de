// detectGpus: what a node agent hands out, from LSPO_GPU_IDS, the device plugin's NVIDIA_VISIBLE_DEVICES, or
// the /dev/nvidiaN files; inside a container GPUs are numbered from 0, whatever the host's ids.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectGpus } from "@lspo/actors";

function devDir(files: string[]): string {
  const d = mkdtempSync(join(tmpdir(), "lspo-dev-"));
  for (const f of files) writeFileSync(join(d, f), "");
  mkdirSync(join(d, "dri"));
  return d;
}

describe("actors - GPU detection", () => {
  const twoGpus = devDir(["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"]);

  it("LSPO_GPU_IDS overrides everything, and is checked", () => {
    expect(detectGpus({ LSPO_GPU_IDS: "0,1", NVIDIA_VISIBLE_DEVICES: "3" }, twoGpus)).toEqual({ ids: [0, 1], source: "LSPO_GPU_IDS" });
    expect(detectGpus({ LSPO_GPU_IDS: "" }, twoGpus).ids).toEqual([]);
    expect(() => detectGpus({ LSPO_GPU_IDS: "0,x" }, twoGpus)).toThrow(/LSPO_GPU_IDS: 'x' is not a GPU index/);
    expect(() => detectGpus({ LSPO_GPU_IDS: "1,1" }, twoGpus)).toThrow(/names a GPU twice/);
  });

  it("NVIDIA_VISIBLE_DEVICES: one GPU per entry, renumbered from 0 as the container sees them", () => {
    expect(detectGpus({ NVIDIA_VISIBLE_DEVICES: "3,5" }, twoGpus).ids).toEqual([0, 1]);
    expect(detectGpus({ NVIDIA_VISIBLE_DEVICES: "GPU-8e1c2f0a-1b2c-4d5e-9f00-aabbccddeeff" }, twoGpus).ids).toEqual([0]);
    expect(detectGpus({ NVIDIA_VISIBLE_DEVICES: "all" }, twoGpus).ids).toEqual([0, 1]);
    expect(detectGpus({ NVIDIA_VISIBLE_DEVICES: "none" }, twoGpus).ids).toEqual([]);
    expect(detectGpus({ NVIDIA_VISIBLE_DEVICES: "void" }, twoGpus).ids).toEqual([]);
    expect(() => detectGpus({ NVIDIA_VISIBLE_DEVICES: "0,gpu zero" }, twoGpus)).toThrow(/'gpu zero' is neither a GPU index nor a GPU-\/MIG- UUID/);
  });

  it("else the /dev/nvidiaN files (nvidiactl and nvidia-uvm are not GPUs), else none", () => {
    expect(detectGpus({}, twoGpus)).toMatchObject({ ids: [0, 1] });
    expect(detectGpus({}, devDir(["nvidiactl"]))).toMatchObject({ ids: [] });
    expect(detectGpus({}, join(tmpdir(), "no-such-dev-dir")).ids).toEqual([]);
  });
});
