// k8s - every overlay renders, and our renderer agrees with `kubectl kustomize` object for object.
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { kubectlKustomize, kubectlPath } from "./support/kubectl.js";
import { overlayDirs, renderKustomization, resourceId, type Resource } from "./support/kustomize.js";

const root = resolve(import.meta.dirname, "../..");
const overlays = overlayDirs(root);
const kubectl = kubectlPath();

function byId(resources: Resource[]): Record<string, Resource> {
  return Object.fromEntries(resources.map((r) => [resourceId(r), r]));
}

describe("k8s - render", () => {
  it("has the overlays the docs describe", () => {
    expect(Object.keys(overlays)).toEqual(["cpu-dev", "external-nats", "gpu", "gpu-cuda"]);
  });

  for (const [name, dir] of Object.entries(overlays)) {
    it(`${name} - renders every component`, () => {
      const ids = renderKustomization(dir).map(resourceId);
      for (const want of ["DaemonSet/lspo/lspo-agent", "Deployment/lspo/lspo-verifier", "Deployment/lspo/lspo-sampler",
        "StatefulSet/lspo/lspo-learner", "Job/lspo/lspo-train", "NetworkPolicy/lspo/default-deny-all"]) {
        expect(ids).toContain(want);
      }
      expect(ids.includes("StatefulSet/lspo/lspo-nats")).toBe(name !== "external-nats");
    });

    // Where kubectl is not installed this comparison cannot run; the renderer's own tests below still do.
    it.skipIf(!kubectl)(`${name} - matches kubectl kustomize`, () => {
      const ours = byId(renderKustomization(dir));
      const theirs = byId(kubectlKustomize(kubectl!, dir));
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      for (const id of Object.keys(theirs)) expect(ours[id], id).toEqual(theirs[id]);
    });
  }
});

describe("k8s - renderer refuses what it does not implement", () => {
  function fixture(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "kustomize-"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }
  const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n";

  it("an unsupported kustomization field", () => {
    const dir = fixture({ "kustomization.yaml": "resources: [cm.yaml]\ncommonLabels: {a: b}\n", "cm.yaml": cm });
    expect(() => renderKustomization(dir)).toThrow(/field 'commonLabels' is not supported/);
  });

  it("a patch whose target matches nothing", () => {
    const dir = fixture({
      "kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: b}\n    patch: '[{op: remove, path: /data/k}]'\n",
      "cm.yaml": cm,
    });
    expect(() => renderKustomization(dir)).toThrow(/ConfigMap\/b matches no resource/);
  });

  it("a failed test operation, naming the path", () => {
    const dir = fixture({
      "kustomization.yaml": "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap, name: a}\n    patch: '[{op: test, path: /data/k, value: w}]'\n",
      "cm.yaml": cm,
    });
    expect(() => renderKustomization(dir)).toThrow(/operation 0 \(test \/data\/k\): test failed: "v" is not "w"/);
  });

  it("applies add/replace/remove, namespace and images like kustomize", () => {
    const dir = fixture({
      "kustomization.yaml": [
        "namespace: ns",
        "resources: [cm.yaml, dep.yaml]",
        "images: [{name: app, newName: reg:5000/app, newTag: '2'}]",
        "patches:",
        "  - target: {kind: ConfigMap, name: a}",
        "    patch: '[{op: add, path: /data/j, value: x}, {op: replace, path: /data/k, value: y}]'",
        "  - target: {kind: Deployment, name: d}",
        "    patch: '[{op: remove, path: /spec/template/spec/containers/0/args}, {op: add, path: /spec/template/spec/containers/0/env/0, value: {name: A, value: \"1\"}}]'",
      ].join("\n"),
      "cm.yaml": cm,
      "dep.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: c, image: 'app:1', args: [x], env: [{name: B, value: '2'}]}\n",
    });
    const [c, d] = renderKustomization(dir) as any[];
    expect(c).toEqual({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a", namespace: "ns" }, data: { k: "y", j: "x" } });
    expect(d.metadata.namespace).toBe("ns");
    expect(d.spec.template.spec.containers[0]).toEqual({
      name: "c", image: "reg:5000/app:2", env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
    });
  });
});
