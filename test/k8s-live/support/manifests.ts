// The rendered objects the live check reads, with the few lookups every part shares: label selectors,
// the pod template of a workload, a container's named ports. Typed loosely on purpose: the manifests are
// the input under test, and a missing field must surface as the check's error, not as a type cast.
import type { Resource } from "../../k8s/support/kustomize.js";

export type { Resource };
export type Labels = Record<string, string>;

export interface Selector {
  matchLabels?: Labels;
  matchExpressions?: Array<{ key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }>;
}

export interface Port { name?: string; containerPort: number; protocol?: string }
export interface EnvVar { name: string; value?: string; valueFrom?: any }
export interface Mount { name: string; mountPath: string; subPath?: string; readOnly?: boolean }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean }; prefix?: string }>;
  ports?: Port[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  volumeMounts?: Mount[];
  readinessProbe?: any;
  livenessProbe?: any;
  startupProbe?: any;
  workingDir?: string;
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<Record<string, any> & { name: string }>;
  nodeSelector?: Labels;
  securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  restartPolicy?: "Always" | "OnFailure" | "Never";
  terminationGracePeriodSeconds?: number;
  hostname?: string;
  subdomain?: string;
}

export interface Workload {
  kind: "Deployment" | "StatefulSet" | "DaemonSet" | "Job";
  name: string;
  namespace: string;
  resource: Resource;
  labels: Labels;
  spec: PodSpec;
}

const WORKLOAD_KINDS = ["StatefulSet", "DaemonSet", "Deployment", "Job"] as const;

export function namespaceOf(r: Resource): string {
  return r.metadata.namespace ?? "default";
}

export function workloadsOf(resources: Resource[]): Workload[] {
  return resources
    .filter((r) => (WORKLOAD_KINDS as readonly string[]).includes(r.kind))
    .map((r) => {
      const t = (r as any).spec.template;
      return { kind: r.kind as Workload["kind"], name: r.metadata.name, namespace: namespaceOf(r), resource: r, labels: t.metadata?.labels ?? {}, spec: t.spec };
    });
}

export function byKind(resources: Resource[], kind: string): Resource[] {
  return resources.filter((r) => r.kind === kind);
}

export function lookup(resources: Resource[], kind: string, namespace: string, name: string): Resource | undefined {
  return resources.find((r) => r.kind === kind && r.metadata.name === name && namespaceOf(r) === namespace);
}

/** Does a label selector select these labels? An empty selector ({}) selects everything, as in k8s. */
export function selects(selector: Selector | undefined | null, labels: Labels): boolean {
  if (!selector) return false;
  const okLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const okExprs = (selector.matchExpressions ?? []).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case "In": return has && (e.values ?? []).includes(labels[e.key]);
      case "NotIn": return !has || !(e.values ?? []).includes(labels[e.key]);
      case "Exists": return has;
      case "DoesNotExist": return !has;
      default: throw new Error(`unknown selector operator ${(e as any).operator}`);
    }
  });
  return okLabels && okExprs;
}

/** A container port by number or name ("grpc"), as Services' targetPort and probes name them. */
export function resolvePort(containers: Container[], port: number | string): number | undefined {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === port) return p.containerPort;
  return undefined;
}

/** Decodes a Secret's data (base64) and stringData into plain strings. */
export function secretData(r: Resource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(((r as any).data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, "base64").toString("utf8");
  Object.assign(out, (r as any).stringData ?? {});
  return out;
}

/** A Secret's data as raw bytes (keys and certificates are written to files byte for byte). */
export function secretBytes(r: Resource): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(((r as any).data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, "base64");
  for (const [k, v] of Object.entries(((r as any).stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v);
  return out;
}

export function configMapData(r: Resource): Record<string, string> {
  return { ...((r as any).data ?? {}) };
}
