// The wrapper kustomization's edits (support/render.ts): run.yaml keys and env in lspo containers.
import { describe, expect, it } from "vitest";
import { editRunConfig, envPatches } from "./support/render.js";

describe("k8s-live render", () => {
  it("k8s-live render - --set edits run.yaml keeping its comments; values are YAML", () => {
    const out = editRunConfig("# keep me\nrun:\n  steps: 10 # why\n", ["run.steps=4", "learner.checkpointEvery=2", "run.name=x"]);
    expect(out).toContain("# keep me");
    expect(out).toMatch(/steps: 4/);
    expect(out).toMatch(/learner:\n {2}checkpointEvery: 2/);
    expect(out).toMatch(/name: x/);
  });

  it("k8s-live render - --env replaces an existing entry, appends a new one, only in lspo containers", () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "s" },
      spec: { template: { metadata: {}, spec: { containers: [{ name: "a", image: "lspo:1", env: [{ name: "X", value: "1" }] }, { name: "n", image: "nats:2" }], initContainers: [{ name: "i", image: "lspo-cuda:1" }] } } },
    };
    expect(envPatches([dep as any], ["X=2", "LSPO_DEVICE=cpu"])).toEqual([
      {
        target: { kind: "Deployment", name: "s" },
        ops: [
          { op: "add", path: "/spec/template/spec/initContainers/0/env", value: [] },
          { op: "add", path: "/spec/template/spec/initContainers/0/env/-", value: { name: "X", value: "2" } },
          { op: "add", path: "/spec/template/spec/initContainers/0/env/-", value: { name: "LSPO_DEVICE", value: "cpu" } },
          { op: "replace", path: "/spec/template/spec/containers/0/env/0", value: { name: "X", value: "2" } },
          { op: "add", path: "/spec/template/spec/containers/0/env/-", value: { name: "LSPO_DEVICE", value: "cpu" } },
        ],
      },
    ]);
  });
});
