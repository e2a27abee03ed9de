// Service names and virtual IPs (support/services.ts).
import { describe, expect, it } from "vitest";
import type { Resource } from "./support/manifests.js";
import { hostsFile, serviceNatScript, type PodEndpoint } from "./support/services.js";

const svc = (name: string, spec: any): Resource => ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "lspo" }, spec });
const nats = { "app.kubernetes.io/name": "nats" };
const services = [
  svc("lspo-nats", { selector: nats, ports: [{ name: "client", port: 4222, targetPort: "client" }] }),
  svc("lspo-nats-headless", { clusterIP: "None", selector: nats, publishNotReadyAddresses: true, ports: [{ port: 4222 }] }),
];
const vips = new Map([["lspo/lspo-nats", "10.214.1.200"]]);
const pod = (name: string, ip: string, ready: boolean): PodEndpoint => ({ name, namespace: "lspo", ip, labels: nats, ports: [{ name: "client", containerPort: 4222 }], ready, hostname: name, subdomain: "lspo-nats-headless" });
const pods = [pod("lspo-nats-0", "10.214.1.32", true), pod("lspo-nats-1", "10.214.1.33", false)];
const client: PodEndpoint = { name: "lspo-sampler-x", namespace: "lspo", ip: "10.214.1.40", labels: {}, ports: [], ready: true };

describe("k8s-live services", () => {
  it("k8s-live services - hosts file: the pod itself, ClusterIP names at the VIP, headless and StatefulSet pod names", () => {
    const hosts = hostsFile(client, services, vips, pods);
    expect(hosts).toContain("10.214.1.40 lspo-sampler-x\n");
    expect(hosts).toContain("10.214.1.200 lspo-nats.lspo.svc.cluster.local lspo-nats.lspo.svc lspo-nats.lspo lspo-nats\n");
    expect(hosts).toContain("10.214.1.33 lspo-nats-headless.lspo.svc.cluster.local"); // publishNotReadyAddresses
    expect(hosts).toContain("10.214.1.32 lspo-nats-0.lspo-nats-headless.lspo.svc.cluster.local lspo-nats-0.lspo-nats-headless.lspo.svc lspo-nats-0.lspo-nats-headless.lspo lspo-nats-0.lspo-nats-headless\n");
  });

  it("k8s-live services - a ClusterIP DNATs to its ready endpoints by target port name; none ready: refused", () => {
    expect(serviceNatScript(services, vips, pods)).toContain('add rule inet lspo services ip daddr 10.214.1.200 tcp dport 4222 dnat ip to 10.214.1.32:4222 comment "svc lspo-nats:4222"');
    const both = serviceNatScript(services, vips, pods.map((p) => ({ ...p, ready: true })));
    expect(both).toContain("dnat ip to numgen random mod 2 map { 0 : 10.214.1.32 . 4222, 1 : 10.214.1.33 . 4222 }");
    const none = serviceNatScript(services, vips, []);
    expect(none).not.toContain("dnat");
    expect(none).toContain("unserved ip daddr { 10.214.1.200 } meta l4proto tcp reject with tcp reset");
  });
});
