// Probe parsing with the API's defaults and the kubelet's thresholds (support/probes.ts).
import { describe, expect, it } from "vitest";
import { containerProbes, parseProbe, ProbeState } from "./support/probes.js";

const c = { name: "nats", image: "nats", ports: [{ name: "monitor", containerPort: 8222 }, { name: "grpc", containerPort: 50053 }] };

describe("k8s-live probes", () => {
  it("k8s-live probes - handlers, named ports and defaults", () => {
    expect(parseProbe("readiness", { httpGet: { path: "/healthz", port: "monitor" } }, c)).toEqual({
      type: "readiness",
      action: { kind: "http", port: 8222, path: "/healthz", scheme: "HTTP", headers: [], host: undefined },
      initialDelaySeconds: 0,
      periodSeconds: 10,
      timeoutSeconds: 1,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(parseProbe("liveness", { grpc: { port: 50053 }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6, successThreshold: 3 }, c)).toMatchObject({ action: { kind: "grpc", port: 50053 }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6, successThreshold: 1 });
    expect(parseProbe("startup", { tcpSocket: { port: "grpc" } }, c).action).toEqual({ kind: "tcp", port: 50053, host: undefined });
    expect(parseProbe("liveness", { exec: { command: ["true"] } }, c).action).toEqual({ kind: "exec", command: ["true"] });
    expect(() => parseProbe("liveness", { httpGet: { port: "nope" } }, c)).toThrow(/names port nope/);
    expect(containerProbes({ ...c, startupProbe: { tcpSocket: { port: 1 } }, readinessProbe: { tcpSocket: { port: 1 } } }).map((p) => p.type)).toEqual(["startup", "readiness"]);
  });

  it("k8s-live probes - consecutive failures and successes against the thresholds", () => {
    const live = new ProbeState(parseProbe("liveness", { tcpSocket: { port: 1 }, failureThreshold: 2 }, c));
    expect(live.ok).toBe(true);
    live.record(false);
    expect(live.failedOut).toBe(false);
    live.record(true);
    live.record(false);
    expect(live.failedOut).toBe(false); // a success in between resets the count
    live.record(false);
    expect(live.failedOut).toBe(true);
    const ready = new ProbeState(parseProbe("readiness", { tcpSocket: { port: 1 }, successThreshold: 2 }, c));
    expect(ready.ok).toBe(false);
    expect(ready.record(true)).toBe(false);
    expect(ready.record(true)).toBe(true);
    expect(ready.ok).toBe(true);
  });
});
