// NetworkPolicy -> nftables, per pod, inside the pod's own network namespace (what a CNI such as Calico
// does on the node, one hop closer). A pod selected by no policy of a type is open for that type; a pod
// selected by one is closed except for what some rule of those policies allows. Connections are stateful
// (replies pass), loopback passes, and so does traffic from the pod's node address: the kubelet's probes
// come from there and real CNIs allow host-to-pod. Every packet a policy drops is first added to a
// dynamic set (blocked_in / blocked_out) that the check reads to name the connection.
import { type Labels, type Port, type Resource, namespaceOf, selects } from "./manifests.js";

export type PolicyType = "Ingress" | "Egress";

export interface PodNet {
  name: string;
  namespace: string;
  ip: string;
  labels: Labels;
  ports: Port[];
}

export interface NamespaceInfo {
  name: string;
  labels: Labels;
}

/** The table every pod gets once; only its chains are rewritten as pods come and go. */
export const TABLE = "lspo";
export const BLOCKED_TIMEOUT = "10m";

export function tableScript(): string {
  const set = (n: string) => `  set ${n} { type ipv4_addr . inet_proto . inet_service; flags dynamic, timeout; timeout ${BLOCKED_TIMEOUT}; }`;
  return [
    `table inet ${TABLE} {`,
    set("blocked_in"),
    set("blocked_out"),
    "  chain input { type filter hook input priority filter; policy accept; }",
    "  chain output { type filter hook output priority filter; policy accept; }",
    // dstnat in the output hook: a client's own namespace turns a Service's virtual IP into an endpoint
    // before the filter chains run, so policies see pod IPs as on a real cluster.
    "  chain services { type nat hook output priority -100; policy accept; }",
    // A virtual IP still here after dstnat has no ready endpoint: refused, as kube-proxy does, before the
    // policy chains (on a real cluster such a connection never reaches a NetworkPolicy).
    "  chain unserved { type filter hook output priority -10; policy accept; }",
    "}",
  ].join("\n");
}

export function policyTypes(p: Resource): PolicyType[] {
  const spec = (p as any).spec ?? {};
  if (Array.isArray(spec.policyTypes) && spec.policyTypes.length) return spec.policyTypes;
  return spec.egress ? ["Ingress", "Egress"] : ["Ingress"];
}

/** The policies of `type` that select `pod` (same namespace, podSelector matches). */
export function policiesFor(pod: PodNet, policies: Resource[], type: PolicyType): Resource[] {
  return policies.filter((p) => namespaceOf(p) === pod.namespace && policyTypes(p).includes(type) && selects((p as any).spec.podSelector ?? {}, pod.labels));
}

interface Peers {
  /** undefined: any address */
  pods?: PodNet[];
  blocks?: Array<{ cidr: string; except?: string[] }>;
}

/** The pods and IP blocks a rule's `from`/`to` list admits. Missing or empty list: everyone. */
export function resolvePeers(list: any[] | undefined, policyNs: string, pods: PodNet[], namespaces: NamespaceInfo[]): Peers {
  if (!list || list.length === 0) return {};
  const out: Required<Peers> = { pods: [], blocks: [] };
  for (const peer of list) {
    if (peer.ipBlock) {
      out.blocks.push(peer.ipBlock);
      continue;
    }
    const nsOk = (ns: string): boolean => {
      if (!peer.namespaceSelector) return ns === policyNs;
      const info = namespaces.find((n) => n.name === ns);
      return selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": ns, ...(info?.labels ?? {}) });
    };
    for (const p of pods) if (nsOk(p.namespace) && (!peer.podSelector || selects(peer.podSelector, p.labels)) && !out.pods.includes(p)) out.pods.push(p);
  }
  return out;
}

function portNumber(ports: Port[], name: string, proto: string): number | undefined {
  return ports.find((p) => p.name === name && (p.protocol ?? "TCP") === proto)?.containerPort;
}

/** nft match for one NetworkPolicyPort, with its named port looked up on `owner` (the pod that listens). */
function portMatch(port: any, owner: PodNet): string | null {
  const proto = (port.protocol ?? "TCP").toUpperCase();
  const l4 = `meta l4proto ${proto.toLowerCase()}`;
  if (port.port === undefined) return l4;
  const n = typeof port.port === "number" ? port.port : /^\d+$/.test(port.port) ? Number(port.port) : portNumber(owner.ports, port.port, proto);
  if (n === undefined) return null; // a named port this pod does not have matches nothing
  return port.endPort ? `${l4} th dport ${n}-${port.endPort}` : `${l4} th dport ${n}`;
}

function blockMatch(dir: "saddr" | "daddr", b: { cidr: string; except?: string[] }): string {
  const ex = b.except?.length ? ` ip ${dir} != { ${b.except.join(", ")} }` : "";
  return `ip ${dir} ${b.cidr}${ex}`;
}

const quote = (s: string) => `"${s.replace(/"/g, "'").slice(0, 120)}"`;

/** Accept rules for one direction of one pod: every (peer, port) pair its policies allow. */
export function allowRules(pod: PodNet, type: PolicyType, policies: Resource[], pods: PodNet[], namespaces: NamespaceInfo[]): string[] {
  const dir = type === "Ingress" ? "saddr" : "daddr";
  const rules: string[] = [];
  for (const p of policiesFor(pod, policies, type)) {
    const list: any[] = ((p as any).spec[type === "Ingress" ? "ingress" : "egress"] ?? []) as any[];
    list.forEach((rule, i) => {
      const tag = ` accept comment ${quote(`${p.metadata.name} ${type.toLowerCase()}[${i}]`)}`;
      const peers = resolvePeers(type === "Ingress" ? rule.from : rule.to, namespaceOf(p), pods, namespaces);
      const ports: any[] = rule.ports ?? [];
      // Named egress ports are the destination pod's, so they are matched per destination pod.
      const perPeer = type === "Egress" && ports.some((x) => typeof x.port === "string" && !/^\d+$/.test(x.port));
      const portsFor = (owner: PodNet): string[] => (ports.length === 0 ? [""] : ports.map((x) => portMatch(x, owner)).filter((m): m is string => m !== null));
      const addrs: Array<{ match: string; owner: PodNet }> = [];
      if (!peers.pods && !peers.blocks) addrs.push({ match: "", owner: pod });
      if (peers.pods) {
        if (perPeer) for (const q of peers.pods) addrs.push({ match: `ip ${dir} ${q.ip}`, owner: q });
        else if (peers.pods.length) addrs.push({ match: `ip ${dir} { ${peers.pods.map((q) => q.ip).join(", ")} }`, owner: pod });
      }
      for (const b of peers.blocks ?? []) addrs.push({ match: blockMatch(dir, b), owner: pod });
      for (const a of addrs) {
        for (const pm of portsFor(type === "Ingress" ? pod : a.owner)) rules.push([a.match, pm].filter(Boolean).join(" ") + tag);
      }
    });
  }
  return rules;
}

/** The nft script that rewrites a pod's input and output chains for the current pods and policies. */
export function chainScript(pod: PodNet, nodeIp: string, policies: Resource[], pods: PodNet[], namespaces: NamespaceInfo[]): string {
  const lines = [`flush chain inet ${TABLE} input`, `flush chain inet ${TABLE} output`];
  const add = (chain: string, rule: string) => lines.push(`add rule inet ${TABLE} ${chain} ${rule}`);
  if (policiesFor(pod, policies, "Ingress").length) {
    add("input", "ct state established,related accept");
    add("input", 'iifname "lo" accept');
    add("input", `ip saddr ${nodeIp} accept comment "kubelet probes: host-to-pod"`);
    for (const r of allowRules(pod, "Ingress", policies, pods, namespaces)) add("input", r);
    add("input", "meta l4proto { tcp, udp, sctp } add @blocked_in { ip saddr . meta l4proto . th dport }");
    add("input", "drop");
  }
  if (policiesFor(pod, policies, "Egress").length) {
    add("output", "ct state established,related accept");
    add("output", 'oifname "lo" accept');
    for (const r of allowRules(pod, "Egress", policies, pods, namespaces)) add("output", r);
    add("output", "meta l4proto { tcp, udp, sctp } add @blocked_out { ip daddr . meta l4proto . th dport }");
    add("output", "drop");
  }
  return lines.join("\n") + "\n";
}

export interface Blocked {
  /** the pod whose chain dropped it */
  at: string;
  direction: "in" | "out";
  peerIp: string;
  proto: string;
  port: number;
}

/** Elements of blocked_in / blocked_out in `nft -j list sets inet` (one call per pod): [ip, proto, port]. */
export function parseBlockedSets(json: string, at: string): Blocked[] {
  const out: Blocked[] = [];
  const doc = JSON.parse(json);
  for (const item of doc.nftables ?? []) {
    const set = item.set;
    if (!set || set.table !== TABLE || (set.name !== "blocked_in" && set.name !== "blocked_out")) continue;
    for (const el of set.elem ?? []) {
      const concat = el.elem?.val?.concat ?? el.concat;
      if (!Array.isArray(concat)) continue;
      const [peerIp, proto, port] = concat;
      out.push({ at, direction: set.name === "blocked_in" ? "in" : "out", peerIp: String(peerIp), proto: String(proto), port: Number(port) });
    }
  }
  return out;
}

/** "NetworkPolicy blocked a (ip) -> b (ip):port/proto: no egress rule of a allows it (policies selecting it: x, y)". */
export function describeBlocked(b: Blocked, pods: PodNet[], policies: Resource[], serviceName?: (ip: string) => string | undefined): string {
  const at = pods.find((p) => p.name === b.at);
  const peer = pods.find((p) => p.ip === b.peerIp);
  const peerName = peer ? `${peer.name} (${peer.ip})` : serviceName?.(b.peerIp) ? `${serviceName(b.peerIp)} (${b.peerIp})` : b.peerIp;
  const atName = at ? `${at.name} (${at.ip})` : b.at;
  const [src, dst] = b.direction === "out" ? [atName, peerName] : [peerName, atName];
  const type: PolicyType = b.direction === "out" ? "Egress" : "Ingress";
  const selecting = at ? policiesFor(at, policies, type).map((p) => p.metadata.name) : [];
  return `NetworkPolicy blocked ${src} -> ${dst}:${b.port}/${b.proto}: no ${type.toLowerCase()} rule of ${b.at} allows it (policies selecting it: ${selecting.join(", ") || "none"})`;
}
