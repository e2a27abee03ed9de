// k8s - every rendered object is valid against the Kubernetes / KEDA schemas and has no field they do not define.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { overlayDirs, renderKustomization, resourceId } from "./support/kustomize.js";
import { schemaErrors, unknownFields } from "./support/schemas.js";

const root = resolve(import.meta.dirname, "../..");

describe("k8s - schemas", () => {
  for (const [name, dir] of Object.entries(overlayDirs(root))) {
    it(`${name} - every object is valid and has only known fields`, () => {
      const problems = renderKustomization(dir).flatMap((r) => {
        const errors = schemaErrors(r);
        const found = errors.length ? errors : unknownFields(r).map((p) => `${p}: unknown field`);
        return found.map((e) => `${resourceId(r)} ${e}`);
      });
      expect(problems).toEqual([]);
    });
  }
});

describe("k8s - the checks themselves", () => {
  const deployment = () => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "d", labels: { a: "b" } },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "x:1", ports: [{ containerPort: 1 }], readinessProbe: { grpc: { port: 1 } } }] },
      },
    },
  });

  it("a valid object passes both", () => {
    expect(schemaErrors(deployment())).toEqual([]);
    expect(unknownFields(deployment())).toEqual([]);
  });

  it("a misspelt field is reported with its path", () => {
    const d: any = deployment();
    d.spec.template.spec.containers[0].imagePullPolcy = "Always";
    d.spec.replica = 2;
    expect(unknownFields(d).sort()).toEqual(["/spec/replica", "/spec/template/spec/containers/0/imagePullPolcy"]);
  });

  it("a wrong type is a schema error", () => {
    const d: any = deployment();
    d.spec.template.spec.containers[0].ports[0].containerPort = "fifty";
    expect(schemaErrors(d).join("\n")).toMatch(/\/spec\/template\/spec\/containers\/0\/ports\/0\/containerPort/);
  });

  it("a KEDA trigger with an unknown field is reported", () => {
    const so = {
      apiVersion: "keda.sh/v1alpha1",
      kind: "ScaledObject",
      metadata: { name: "s" },
      spec: { scaleTargetRef: { name: "d" }, triggers: [{ type: "nats-jetstream", metadata: { stream: "S" }, metdata: {} }] },
    };
    expect(schemaErrors(so)).toEqual([]);
    expect(unknownFields(so)).toEqual(["/spec/triggers/0/metdata"]);
  });

  it("a kind without a schema fails, listing the known ones", () => {
    expect(() => schemaErrors({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" } })).toThrow(/no schema for v1\/Pod .*known: v1\/Namespace/);
  });
});
