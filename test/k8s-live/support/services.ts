// Services without kube-proxy or kube-dns: names come from each pod's hosts file, a ClusterIP is a virtual
// address that nftables in the client's own namespace DNATs to a ready endpoint. Pure functions of the
// cluster's state; the kubelet writes their output into each pod's namespace.
import { type Labels, type Port, type Resource, namespaceOf, selects } from "./manifests.js";

export interface PodEndpoint {
  name: string;
  namespace: string;
  ip: string;
  labels: Labels;
  ports: Port[];
  ready: boolean;
  /** StatefulSet pods: hostname and subdomain (the StatefulSet's serviceName) */
  hostname?: string;
  subdomain?: string;
}

export interface ServicePort { name?: string; port: number; targetPort?: number | string; protocol?: string }

export function isHeadless(svc: Resource): boolean {
  return (svc as any).spec?.clusterIP === "None";
}

export function dnsNames(name: string, ns: string): string[] {
  return [`${name}.${ns}.svc.cluster.local`, `${name}.${ns}.svc`, `${name}.${ns}`];
}

/** The pods behind a Service: its selector, its namespace, ready (or any, with publishNotReadyAddresses). */
export function endpointsOf(svc: Resource, pods: PodEndpoint[]): PodEndpoint[] {
  const spec = (svc as any).spec ?? {};
  if (!spec.selector) return [];
  return pods.filter((p) => p.namespace === namespaceOf(svc) && p.ip && selects({ matchLabels: spec.selector }, p.labels) && (p.ready || spec.publishNotReadyAddresses));
}

function targetPortOf(sp: ServicePort, pod: PodEndpoint): number | undefined {
  const t = sp.targetPort ?? sp.port;
  if (typeof t === "number") return t;
  if (/^\d+$/.test(t)) return Number(t);
  return pod.ports.find((p) => p.name === t && (p.protocol ?? "TCP") === (sp.protocol ?? "TCP"))?.containerPort;
}

/** The hosts file of `self`: itself, every Service (VIP or endpoints), StatefulSet pods by stable name. */
export function hostsFile(self: PodEndpoint, services: Resource[], vips: Map<string, string>, pods: PodEndpoint[]): string {
  const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
  const own = [self.name];
  if (self.hostname && self.subdomain) own.unshift(...dnsNames(`${self.hostname}.${self.subdomain}`, self.namespace), `${self.hostname}.${self.subdomain}`);
  lines.push(`${self.ip} ${own.join(" ")}`);
  for (const svc of services) {
    const ns = namespaceOf(svc);
    const names = [...dnsNames(svc.metadata.name, ns), ...(ns === self.namespace ? [svc.metadata.name] : [])].join(" ");
    if (!isHeadless(svc)) {
      const vip = vips.get(`${ns}/${svc.metadata.name}`);
      if (vip) lines.push(`${vip} ${names}`);
      continue;
    }
    for (const p of endpointsOf(svc, pods)) lines.push(`${p.ip} ${names}`);
  }
  // Pods with hostname + subdomain: `<pod>.<svc>...`, as kube-dns answers for a StatefulSet's headless service
  for (const p of pods) {
    if (!p.hostname || !p.subdomain || !p.ip || p === self) continue;
    const ns = p.namespace;
    lines.push(`${p.ip} ${[...dnsNames(`${p.hostname}.${p.subdomain}`, ns), ...(ns === self.namespace ? [`${p.hostname}.${p.subdomain}`] : [])].join(" ")}`);
  }
  return lines.join("\n") + "\n";
}

/** nft rules for the `services` nat chain: each ClusterIP port DNATs to its ready endpoints at random. */
export function serviceNatScript(services: Resource[], vips: Map<string, string>, pods: PodEndpoint[], table = "lspo"): string {
  const lines = [`flush chain inet ${table} services`, `flush chain inet ${table} unserved`];
  if (vips.size) {
    const all = [...vips.values()].join(", ");
    lines.push(`add rule inet ${table} unserved ip daddr { ${all} } meta l4proto tcp reject with tcp reset`);
    lines.push(`add rule inet ${table} unserved ip daddr { ${all} } reject`);
  }
  for (const svc of services) {
    if (isHeadless(svc)) continue;
    const vip = vips.get(`${namespaceOf(svc)}/${svc.metadata.name}`);
    if (!vip) continue;
    const eps = endpointsOf(svc, pods);
    for (const sp of ((svc as any).spec.ports ?? []) as ServicePort[]) {
      const proto = (sp.protocol ?? "TCP").toLowerCase();
      const targets = eps.map((p) => ({ ip: p.ip, port: targetPortOf(sp, p) })).filter((t): t is { ip: string; port: number } => t.port !== undefined);
      if (targets.length === 0) continue;
      const to = targets.length === 1 ? `${targets[0].ip}:${targets[0].port}` : `numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t.ip} . ${t.port}`).join(", ")} }`;
      lines.push(`add rule inet ${table} services ip daddr ${vip} ${proto} dport ${sp.port} dnat ip to ${to} comment "svc ${svc.metadata.name}:${sp.port}"`);
    }
  }
  return lines.join("\n") + "\n";
}
