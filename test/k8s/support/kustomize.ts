// A kustomize renderer for the features k8s/ uses, so CI renders the overlays where kubectl is absent.
// render.test.ts checks its output object for object against `kubectl kustomize` wherever kubectl exists.
// Supported (anything else is refused, naming the field): resources (files and directories),
// components, namespace, patches (JSON 6902, from `path` or inline `patch`, selected by kind and name),
// configMapGenerator (files, literals) with generatorOptions.disableNameSuffixHash, images.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parseAllDocuments, type ScalarTag } from "yaml";
import { applyJsonPatch } from "./json-patch.js";

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export class KustomizeError extends Error {
  override name = "KustomizeError";
}

const FIELDS = new Set([
  "apiVersion", "kind", "namespace", "resources", "components", "patches",
  "configMapGenerator", "generatorOptions", "images",
]);
const KINDS: Record<string, string> = {
  Kustomization: "kustomize.config.k8s.io/v1beta1",
  Component: "kustomize.config.k8s.io/v1alpha1",
};
// Kinds without a namespace: the namespace transformer leaves them alone.
const CLUSTER_SCOPED = new Set([
  "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
  "StorageClass", "PriorityClass", "RuntimeClass", "IngressClass", "MutatingWebhookConfiguration",
  "ValidatingWebhookConfiguration", "APIService",
]);

interface Target { kind?: string; name?: string }
interface Patch { path?: string; patch?: string; target?: Target }
interface Image { name: string; newName?: string; newTag?: string; digest?: string }
interface Generator { name: string; files?: string[]; literals?: string[] }
interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  patches?: Patch[];
  configMapGenerator?: Generator[];
  generatorOptions?: { disableNameSuffixHash?: boolean };
  images?: Image[];
}

// YAML as kustomize (go-yaml v3) reads it: YAML 1.2 core (`yes`, `y`, `on` stay strings), except that a
// leading-zero integer is octal as in YAML 1.1 (`defaultMode: 0440` is 288).
const octalYaml11: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  format: "OCT",
  default: true,
  test: /^0[0-7]+$/,
  resolve: (text: string) => parseInt(text, 8),
  identify: () => false,
};

export function parseYamlDocuments(text: string, source: string): unknown[] {
  return parseAllDocuments(text, { version: "1.2", schema: "core", customTags: (tags) => [octalYaml11, ...tags] }).flatMap((doc) => {
    if (doc.errors.length) throw new KustomizeError(`${source}: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS({ maxAliasCount: -1 });
    return value === null || value === undefined ? [] : [value];
  });
}

export function resourceId(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace ?? "-"}/${r.metadata.name}`;
}

function loadKustomization(dir: string, wantKind: keyof typeof KINDS): Kustomization {
  const file = ["kustomization.yaml", "kustomization.yml", "Kustomization"].map((n) => join(dir, n)).find((p) => existsSync(p));
  if (!file) throw new KustomizeError(`${dir}: no kustomization.yaml`);
  const [k] = parseYamlDocuments(readFileSync(file, "utf8"), file) as Kustomization[];
  for (const key of Object.keys(k ?? {})) {
    if (!FIELDS.has(key)) throw new KustomizeError(`${file}: field '${key}' is not supported by this renderer (supported: ${[...FIELDS].join(", ")})`);
  }
  const kind = k.kind ?? "Kustomization";
  if (kind !== wantKind) throw new KustomizeError(`${file}: kind ${kind} where a ${wantKind} is expected`);
  if (k.apiVersion !== undefined && k.apiVersion !== KINDS[kind]) {
    throw new KustomizeError(`${file}: apiVersion ${k.apiVersion} for kind ${kind} (expected ${KINDS[kind]})`);
  }
  return k;
}

function readResourceFile(path: string): Resource[] {
  return parseYamlDocuments(readFileSync(path, "utf8"), path).map((doc, i) => {
    const r = doc as Resource;
    if (!r?.apiVersion || !r.kind || !r.metadata?.name) {
      throw new KustomizeError(`${path}: document ${i} lacks apiVersion, kind or metadata.name`);
    }
    return r;
  });
}

function add(acc: Resource[], more: Resource[], where: string): void {
  const seen = new Set(acc.map(resourceId));
  for (const r of more) {
    const id = resourceId(r);
    if (seen.has(id)) throw new KustomizeError(`${where}: ${id} is defined twice`);
    seen.add(id);
    acc.push(r);
  }
}

function generate(dir: string, k: Kustomization): Resource[] {
  return (k.configMapGenerator ?? []).map((g) => {
    if (!k.generatorOptions?.disableNameSuffixHash) {
      throw new KustomizeError(`${dir}: configMapGenerator '${g.name}' needs generatorOptions.disableNameSuffixHash (name hashes are not supported)`);
    }
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [key, path] = f.includes("=") ? f.split(/=(.*)/s, 2) : [basename(f), f];
      data[key] = readFileSync(join(dir, path), "utf8");
    }
    for (const lit of g.literals ?? []) {
      const eq = lit.indexOf("=");
      if (eq < 1) throw new KustomizeError(`${dir}: literal '${lit}' of '${g.name}' is not key=value`);
      data[lit.slice(0, eq)] = lit.slice(eq + 1);
    }
    return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: g.name }, data };
  });
}

function applyPatches(dir: string, k: Kustomization, acc: Resource[]): void {
  for (const p of k.patches ?? []) {
    const where = `${dir}: patch ${p.path ?? "(inline)"}`;
    const text = p.path ? readFileSync(join(dir, p.path), "utf8") : p.patch;
    if (text === undefined) throw new KustomizeError(`${where}: needs 'path' or 'patch'`);
    const [ops] = parseYamlDocuments(text, where);
    if (!Array.isArray(ops)) throw new KustomizeError(`${where}: only JSON 6902 patches (a list of operations) are supported`);
    if (!p.target?.kind || !p.target.name) throw new KustomizeError(`${where}: needs a target with kind and name`);
    const hits = acc.filter((r) => r.kind === p.target!.kind && r.metadata.name === p.target!.name);
    if (hits.length === 0) throw new KustomizeError(`${where}: target ${p.target.kind}/${p.target.name} matches no resource`);
    for (const r of hits) {
      try {
        applyJsonPatch(r, ops);
      } catch (err) {
        throw new KustomizeError(`${where} on ${resourceId(r)}: ${(err as Error).message}`);
      }
    }
  }
}

function setNamespace(namespace: string | undefined, acc: Resource[]): void {
  if (!namespace) return;
  for (const r of acc) if (!CLUSTER_SCOPED.has(r.kind)) r.metadata.namespace = namespace;
}

// The containers of every pod template shape kustomize's image transformer knows.
function containerLists(r: Resource): Array<Array<{ image?: string }>> {
  const specs = [
    (r as any).spec,
    (r as any).spec?.template?.spec,
    (r as any).spec?.jobTemplate?.spec?.template?.spec,
  ];
  return specs.flatMap((s) => (s ? [s.containers, s.initContainers].filter(Array.isArray) : []));
}

/** `registry:5000/repo:tag@sha256:...` -> name, tag, digest (a ':' after the last '/' starts the tag). */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  const [rest, digest] = image.split("@", 2) as [string, string | undefined];
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

function setImages(images: Image[] | undefined, acc: Resource[]): void {
  for (const img of images ?? []) {
    for (const r of acc) {
      for (const list of containerLists(r)) {
        for (const c of list) {
          if (!c.image) continue;
          const cur = splitImage(c.image);
          if (cur.name !== img.name) continue;
          const name = img.newName ?? cur.name;
          if (img.digest) c.image = `${name}@${img.digest}`;
          else c.image = `${name}${img.newTag ?? cur.tag ? `:${img.newTag ?? cur.tag}` : ""}${cur.digest && !img.newTag ? `@${cur.digest}` : ""}`;
        }
      }
    }
  }
}

function build(dir: string, kind: keyof typeof KINDS, acc: Resource[]): Resource[] {
  const k = loadKustomization(dir, kind);
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new KustomizeError(`${dir}: resource '${entry}' does not exist`);
    add(acc, statSync(path).isDirectory() ? build(path, "Kustomization", []) : readResourceFile(path), dir);
  }
  for (const entry of k.components ?? []) build(resolve(dir, entry), "Component", acc);
  add(acc, generate(dir, k), dir);
  applyPatches(dir, k, acc);
  setNamespace(k.namespace, acc);
  setImages(k.images, acc);
  return acc;
}

/** Renders the kustomization in `dir` (like `kubectl kustomize dir`), as plain objects. */
export function renderKustomization(dir: string): Resource[] {
  return build(resolve(dir), "Kustomization", []);
}

/** Every overlay under k8s/overlays, by name. */
export function overlayDirs(root: string): Record<string, string> {
  const base = join(root, "k8s", "overlays");
  return Object.fromEntries(readdirSync(base).sort().map((n) => [n, join(base, n)]));
}
