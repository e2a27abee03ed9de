// The Secrets the manifests reference, made the way docs/KUBERNETES.md says an operator makes them:
// deploy/make-secrets.sh <dir> <namespace>, whose k8s-secrets.yaml is then applied to the cluster.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseYamlDocuments } from "../../k8s/support/kustomize.js";
import type { Resource } from "./manifests.js";

export function makeSecrets(repoRoot: string, dir: string, namespace: string): Resource[] {
  const r = spawnSync("bash", [join(repoRoot, "deploy/make-secrets.sh"), dir, namespace], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`deploy/make-secrets.sh failed: ${r.stderr || r.error?.message}`);
  const file = join(dir, "k8s-secrets.yaml");
  return parseYamlDocuments(readFileSync(file, "utf8"), file) as Resource[];
}
