// NetworkPolicy -> nft translation (support/netpol.ts) on policies shaped like k8s/base's.
import { describe, expect, it } from "vitest";
import type { Resource } from "./support/manifests.js";
import { allowRules, chainScript, describeBlocked, parseBlockedSets, policiesFor, type NamespaceInfo, type PodNet } from "./support/netpol.js";

const np = (name: string, spec: any): Resource => ({ apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name, namespace: "lspo" }, spec });
const lspo = (component: string) => ({ "app.kubernetes.io/name": "lspo", "app.kubernetes.io/component": component });
const pods: PodNet[] = [
  { name: "lspo-nats-0", namespace: "lspo", ip: "10.214.1.32", labels: { "app.kubernetes.io/name": "nats", "app.kubernetes.io/part-of": "lspo" }, ports: [{ name: "client", containerPort: 4222 }] },
  { name: "lspo-sampler-a", namespace: "lspo", ip: "10.214.1.33", labels: lspo("sampler"), ports: [{ name: "grpc", containerPort: 50053 }] },
  { name: "lspo-train-b", namespace: "lspo", ip: "10.214.1.34", labels: lspo("controller"), ports: [] },
  { name: "other", namespace: "keda", ip: "10.214.1.35", labels: {}, ports: [] },
];
const namespaces: NamespaceInfo[] = [{ name: "lspo", labels: {} }, { name: "keda", labels: { "kubernetes.io/metadata.name": "keda" } }];
const policies = [
  np("default-deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
  np("lspo-to-nats", { podSelector: { matchLabels: { "app.kubernetes.io/name": "lspo" } }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "nats" } } }], ports: [{ port: 4222, protocol: "TCP" }] }] }),
  np("nats", {
    podSelector: { matchLabels: { "app.kubernetes.io/name": "nats" } },
    policyTypes: ["Ingress"],
    ingress: [
      { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "lspo" } } }], ports: [{ port: "client" }] },
      { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "keda" } } }], ports: [{ port: 8222 }] },
    ],
  }),
  np("controller-out", { podSelector: { matchLabels: lspo("controller") }, policyTypes: ["Egress"], egress: [{ to: [{ podSelector: { matchLabels: lspo("sampler") } }], ports: [{ port: "grpc" }, { port: 50100, endPort: 50163 }] }, { to: [{ ipBlock: { cidr: "169.254.0.0/16", except: ["169.254.1.0/24"] } }], ports: [{ port: 53, protocol: "UDP" }] }] }),
];

describe("k8s-live netpol", () => {
  it("k8s-live netpol - which policies select a pod, per type", () => {
    expect(policiesFor(pods[1], policies, "Egress").map((p) => p.metadata.name)).toEqual(["default-deny-all", "lspo-to-nats"]);
    expect(policiesFor(pods[0], policies, "Ingress").map((p) => p.metadata.name)).toEqual(["default-deny-all", "nats"]);
    expect(policiesFor(pods[3], policies, "Ingress")).toEqual([]); // another namespace
  });

  it("k8s-live netpol - egress to a pod selector on a port, ingress by named port and namespace selector", () => {
    expect(allowRules(pods[1], "Egress", policies, pods, namespaces)).toEqual(['ip daddr { 10.214.1.32 } meta l4proto tcp th dport 4222 accept comment "lspo-to-nats egress[0]"']);
    expect(allowRules(pods[0], "Ingress", policies, pods, namespaces)).toEqual([
      'ip saddr { 10.214.1.33, 10.214.1.34 } meta l4proto tcp th dport 4222 accept comment "nats ingress[0]"',
      'ip saddr { 10.214.1.35 } meta l4proto tcp th dport 8222 accept comment "nats ingress[1]"',
    ]);
  });

  it("k8s-live netpol - named egress ports resolve on each destination pod; endPort ranges; ipBlock except", () => {
    const rules = allowRules(pods[2], "Egress", policies, pods, namespaces);
    expect(rules).toContain('ip daddr 10.214.1.33 meta l4proto tcp th dport 50053 accept comment "controller-out egress[0]"');
    expect(rules).toContain('ip daddr 10.214.1.33 meta l4proto tcp th dport 50100-50163 accept comment "controller-out egress[0]"');
    expect(rules).toContain('ip daddr 169.254.0.0/16 ip daddr != { 169.254.1.0/24 } meta l4proto udp th dport 53 accept comment "controller-out egress[1]"');
  });

  it("k8s-live netpol - an isolated pod's chain: replies, loopback and its node pass, drops are recorded; an unselected pod stays open", () => {
    const script = chainScript(pods[0], "10.214.1.2", policies, pods, namespaces);
    expect(script).toContain("add rule inet lspo input ip saddr 10.214.1.2 accept");
    expect(script).toMatch(/input ct state established,related accept/);
    expect(script).toMatch(/add @blocked_in \{ ip saddr \. meta l4proto \. th dport \}\nadd rule inet lspo input drop/);
    expect(script).toMatch(/add @blocked_out .*\nadd rule inet lspo output drop/);
    const open = chainScript(pods[3], "10.214.1.2", policies, pods, namespaces);
    expect(open).toBe("flush chain inet lspo input\nflush chain inet lspo output\n");
  });

  it("k8s-live netpol - a recorded drop is named: source, destination, port, the policies that select the pod", () => {
    const json = JSON.stringify({ nftables: [{ metainfo: {} }, { set: { table: "lspo", name: "blocked_in" } }, { set: { table: "lspo", name: "blocked_out", elem: [{ elem: { val: { concat: ["10.214.1.32", "tcp", 4222] }, expires: 500 } }] } }] });
    const [b, ...more] = parseBlockedSets(json, "lspo-train-b");
    expect(more).toEqual([]);
    expect(b).toEqual({ at: "lspo-train-b", direction: "out", peerIp: "10.214.1.32", proto: "tcp", port: 4222 });
    const without = policies.filter((p) => p.metadata.name !== "lspo-to-nats");
    expect(describeBlocked(b, pods, without)).toBe(
      "NetworkPolicy blocked lspo-train-b (10.214.1.34) -> lspo-nats-0 (10.214.1.32):4222/tcp: no egress rule of lspo-train-b allows it (policies selecting it: default-deny-all, controller-out)",
    );
  });
});
