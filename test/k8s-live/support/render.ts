// Renders an overlay as `kubectl apply -k` would see it. The options that resize a production overlay for
// this machine (--set, --env, --patch) become a wrapper kustomization in a temp dir, `resources: [overlay]` (relative: kustomize refuses an absolute root)
// plus JSON 6902 patches, rendered like any overlay, so the check runs what kustomize makes of them.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parse, parseDocument, stringify } from "yaml";
import { kubectlPath } from "../../k8s/support/kubectl.js";
import { parseYamlDocuments, renderKustomization } from "../../k8s/support/kustomize.js";
import { spawnSync } from "node:child_process";
import { type Resource, workloadsOf } from "./manifests.js";
import { imageBaseName } from "./image.js";
import { splitKv } from "./options.js";

export function overlayDir(repoRoot: string, overlay: string): string {
  const named = join(repoRoot, "k8s/overlays", overlay);
  const dir = existsSync(named) ? named : resolve(overlay);
  if (!existsSync(join(dir, "kustomization.yaml"))) throw new Error(`overlay ${overlay}: no kustomization.yaml in ${dir}`);
  return dir;
}

/** `kubectl kustomize <dir>`, or the repository's own renderer where kubectl is missing. */
export function render(dir: string): Resource[] {
  const kubectl = kubectlPath();
  if (!kubectl) return renderKustomization(dir);
  const r = spawnSync(kubectl, ["kustomize", dir], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr || r.error?.message}`);
  return parseYamlDocuments(r.stdout, `kubectl kustomize ${dir}`) as Resource[];
}

/** run.yaml with `a.b.c=value` edits; the value is read as YAML (6 is a number, true a boolean). */
export function editRunConfig(text: string, sets: string[]): string {
  const doc = parseDocument(text);
  for (const kv of sets) {
    const [key, value] = splitKv(kv);
    doc.setIn(key.split("."), parse(value));
  }
  return doc.toString();
}

/** JSON 6902 ops that set env NAME=value in every container of this repository's images. */
export function envPatches(resources: Resource[], envs: string[]): Array<{ target: { kind: string; name: string }; ops: any[] }> {
  const out: Array<{ target: { kind: string; name: string }; ops: any[] }> = [];
  for (const w of workloadsOf(resources)) {
    const ops: any[] = [];
    for (const field of ["initContainers", "containers"] as const) {
      (w.spec[field] ?? []).forEach((c, i) => {
        if (!imageBaseName(c.image).startsWith("lspo")) return;
        const base = `/spec/template/spec/${field}/${i}/env`;
        const env = [...(c.env ?? [])];
        if (!c.env) ops.push({ op: "add", path: base, value: [] });
        for (const kv of envs) {
          const [name, value] = splitKv(kv);
          const at = env.findIndex((e) => e.name === name);
          if (at >= 0) ops.push({ op: "replace", path: `${base}/${at}`, value: { name, value } });
          else (ops.push({ op: "add", path: `${base}/-`, value: { name, value } }), env.push({ name, value }));
        }
      });
    }
    if (ops.length) out.push({ target: { kind: w.kind, name: w.name }, ops });
  }
  return out;
}

export interface Rendered {
  resources: Resource[];
  customized: string[];
}

/** Renders `dir`, through a wrapper kustomization in `tmp` when anything is customized. */
export function renderWithOptions(dir: string, tmp: string, o: { set: string[]; env: string[]; patch: string[] }): Rendered {
  const plain = render(dir);
  if (!o.set.length && !o.env.length && !o.patch.length) return { resources: plain, customized: [] };
  const patches: any[] = [];
  const customized: string[] = [];
  if (o.set.length) {
    const cm = plain.find((r) => r.kind === "ConfigMap" && r.metadata.name === "lspo-run");
    const text = (cm as any)?.data?.["run.yaml"];
    if (typeof text !== "string") throw new Error("--set edits run.yaml of ConfigMap lspo-run, which this overlay does not have");
    writeFileSync(join(tmp, "set-run.json"), JSON.stringify([{ op: "replace", path: "/data/run.yaml", value: editRunConfig(text, o.set) }]));
    patches.push({ path: "set-run.json", target: { kind: "ConfigMap", name: "lspo-run" } });
    customized.push(...o.set.map((s) => `set ${s} (ConfigMap lspo-run, run.yaml)`));
  }
  envPatches(plain, o.env).forEach((p, i) => {
    writeFileSync(join(tmp, `env-${i}.json`), JSON.stringify(p.ops));
    patches.push({ path: `env-${i}.json`, target: p.target });
  });
  customized.push(...o.env.map((e) => `env ${e} (every lspo container)`));
  o.patch.forEach((file, i) => {
    const text = readFileSync(file, "utf8");
    const entries = [parse(text)].flat();
    for (const [j, e] of entries.entries()) {
      if (!e?.target || (!e.patch && !e.path)) throw new Error(`--patch ${file}: expected a kustomize patch entry {target, patch} (or a list of them)`);
      if (e.path) e.path = isAbsolute(e.path) ? e.path : resolve(file, "..", e.path);
      if (e.path) {
        writeFileSync(join(tmp, `user-${i}-${j}.yaml`), readFileSync(e.path, "utf8"));
        e.path = `user-${i}-${j}.yaml`;
      }
      patches.push(e);
    }
    customized.push(`patch ${file}`);
  });
  writeFileSync(join(tmp, "kustomization.yaml"), stringify({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [relative(tmp, dir)], patches }));
  return { resources: render(tmp), customized };
}
