// k8s - docs/KUBERNETES.md documents what the manifests use, and its recipes work on the real overlays.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { overlayDirs, renderKustomization } from "./support/kustomize.js";
import { workload } from "./support/pods.js";

const root = resolve(import.meta.dirname, "../..");
const doc = readFileSync(join(root, "docs/KUBERNETES.md"), "utf8");

/** The fenced blocks of the doc whose first line is a YAML comment or op (the recipes). */
function yamlBlocks(): string[] {
  return [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe("k8s - docs", () => {
  it("every LSPO_* variable the manifests and compose set is documented", () => {
    const used = new Set<string>();
    for (const dir of Object.values(overlayDirs(root))) {
      for (const r of renderKustomization(dir)) {
        for (const m of JSON.stringify(r).matchAll(/"(LSPO_[A-Z_]+)"/g)) used.add(m[1]);
      }
    }
    for (const m of readFileSync(join(root, "deploy/compose.yaml"), "utf8").matchAll(/\b(LSPO_[A-Z_]+)\b/g)) used.add(m[1]);
    const undocumented = [...used].filter((v) => !doc.includes(v) && !/^LSPO_NATS_[A-Z]+_PASSWORD$/.test(v));
    expect(undocumented).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it("the resume recipe and the registry recipe apply to the gpu overlay", () => {
    const [resume, patchEntry, images] = [
      yamlBlocks().find((b) => b.includes("--resume")),
      yamlBlocks().find((b) => b.includes("path: resume.yaml")),
      yamlBlocks().find((b) => b.includes("newName: registry.example.com/lspo")),
    ];
    expect(resume && patchEntry && images).toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), "lspo-docs-"));
    writeFileSync(join(dir, "resume.yaml"), resume!);
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `resources:\n  - ${overlayDirs(root).gpu}\npatches:\n${patchEntry!.split("\n").filter((l) => !l.startsWith("#")).join("\n")}\n${images!.replace(/^\s+/gm, (s) => s.slice(3))}`,
    );
    const out = renderKustomization(dir);
    const job = workload(out, "Job", "lspo-train").spec.containers[0] as any;
    expect(job.args).toEqual(["train", "--resume", "/var/lib/lspo/runs/lspo-k8s"]);
    expect(workload(out, "DaemonSet", "lspo-agent").spec.containers[0].image).toBe("registry.example.com/lspo-webgpu:0.1.0");
    expect(workload(out, "Deployment", "lspo-verifier").spec.containers[0].image).toBe("registry.example.com/lspo:0.1.0");
    // The same block on top of gpu-cuda reaches the CUDA variant and the controller's init container too.
    const cudaDir = mkdtempSync(join(tmpdir(), "lspo-docs-"));
    writeFileSync(join(cudaDir, "kustomization.yaml"), `resources:\n  - ${overlayDirs(root)["gpu-cuda"]}\n${images!.replace(/^\s+/gm, (s) => s.slice(3))}`);
    const cuda = renderKustomization(cudaDir);
    expect(workload(cuda, "DaemonSet", "lspo-agent").spec.containers[0].image).toBe("registry.example.com/lspo-cuda:0.1.0");
    expect(workload(cuda, "StatefulSet", "lspo-learner").spec.containers[0].image).toBe("registry.example.com/lspo-cuda:0.1.0");
    expect((workload(cuda, "Job", "lspo-train").spec as any).initContainers[0].image).toBe("registry.example.com/lspo:0.1.0");
  });
});
