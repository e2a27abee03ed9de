// `kubectl kustomize`, where kubectl is installed (it is on some of our machine images, not all).
import { spawnSync } from "node:child_process";
import { parseYamlDocuments, type Resource } from "./kustomize.js";

export function kubectlPath(): string | null {
  const r = spawnSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

export function kubectlKustomize(kubectl: string, dir: string): Resource[] {
  const r = spawnSync(kubectl, ["kustomize", dir], { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr || r.error?.message}`);
  return parseYamlDocuments(r.stdout, `kubectl kustomize ${dir}`) as Resource[];
}
