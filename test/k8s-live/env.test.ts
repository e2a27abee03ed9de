// Container environments resolved as the kubelet does (support/env.ts).
import { describe, expect, it } from "vitest";
import { expand, resolveEnv, type EnvSources, type PodFields } from "./support/env.js";

const pod: PodFields = { name: "lspo-nats-0", namespace: "lspo", ip: "10.214.1.40", nodeName: "node-2", labels: { app: "nats" } };
const src: EnvSources = {
  configMap: (n: string): Record<string, string> | undefined => (n === "lspo-env" ? { LSPO_DEVICE: "cpu", LSPO_NATS_URL: "tls://x:4222" } : n === "agent" ? { actorsPerGpu: "2" } : undefined),
  secret: (n: string): Record<string, string> | undefined => (n === "users" ? { rollout: "p123" } : undefined),
};

describe("k8s-live env", () => {
  it("k8s-live env - image ENV, then envFrom, then env; later wins", () => {
    const env = resolveEnv(
      { name: "c", image: "lspo", envFrom: [{ configMapRef: { name: "lspo-env" } }], env: [{ name: "LSPO_DEVICE", value: "webgpu" }, { name: "A", value: "1" }, { name: "A", value: "2" }] },
      pod,
      src,
      { LSPO_DEVICE: "image", NODE_ENV: "production" },
    );
    expect(env).toMatchObject({ LSPO_DEVICE: "webgpu", NODE_ENV: "production", LSPO_NATS_URL: "tls://x:4222", A: "2" });
  });

  it("k8s-live env - configMapKeyRef, secretKeyRef and fieldRefs", () => {
    const env = resolveEnv(
      {
        name: "c",
        image: "lspo",
        env: [
          { name: "N", valueFrom: { configMapKeyRef: { name: "agent", key: "actorsPerGpu" } } },
          { name: "P", valueFrom: { secretKeyRef: { name: "users", key: "rollout" } } },
          { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
          { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
          { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
          { name: "ADDR", value: "$(IP):4222" },
        ],
      },
      pod,
      src,
    );
    expect(env).toEqual({ N: "2", P: "p123", IP: "10.214.1.40", NODE: "node-2", POD: "lspo-nats-0", NS: "lspo", ADDR: "10.214.1.40:4222" });
  });

  it("k8s-live env - a missing reference names the object and key; optional ones are skipped", () => {
    const c = (valueFrom: any) => ({ name: "c", image: "lspo", env: [{ name: "X", valueFrom }] });
    expect(() => resolveEnv(c({ secretKeyRef: { name: "users", key: "learner" } }), pod, src)).toThrow(/Secret users key learner, which has no such key/);
    expect(() => resolveEnv(c({ configMapKeyRef: { name: "nope", key: "k" } }), pod, src)).toThrow(/ConfigMap nope key k, which does not exist/);
    expect(resolveEnv(c({ configMapKeyRef: { name: "nope", key: "k", optional: true } }), pod, src)).toEqual({});
    expect(() => resolveEnv({ name: "c", image: "lspo", envFrom: [{ secretRef: { name: "gone" } }] }, pod, src)).toThrow(/envFrom Secret gone/);
  });

  it("k8s-live env - $(VAR) expansion: $$ escapes, unknown names stay", () => {
    expect(expand("$(A)-$$(A)-$(B)", { A: "x" })).toBe("x-$(A)-$(B)");
  });
});
