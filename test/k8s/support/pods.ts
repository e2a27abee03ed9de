// Pod templates of rendered workloads, and lookups the property checks share.
import type { Resource } from "./kustomize.js";

export interface Probe {
  httpGet?: { path?: string; port: number | string };
  grpc?: { port: number };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
  [field: string]: unknown;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: any }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, any>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, any>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<Record<string, any> & { name: string }>;
  nodeSelector?: Record<string, string>;
  tolerations?: Array<Record<string, string>>;
  terminationGracePeriodSeconds?: number;
}

export interface Workload {
  resource: Resource;
  id: string;
  labels: Record<string, string>;
  spec: PodSpec;
}

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

export function workloads(resources: Resource[]): Workload[] {
  return resources
    .filter((r) => WORKLOAD_KINDS.has(r.kind))
    .map((r) => {
      const template = (r as any).spec.template;
      return { resource: r, id: `${r.kind}/${r.metadata.name}`, labels: template.metadata?.labels ?? {}, spec: template.spec };
    });
}

export function find(resources: Resource[], kind: string, name: string): Resource {
  const r = resources.find((x) => x.kind === kind && x.metadata.name === name);
  if (!r) throw new Error(`${kind}/${name} is not in the render (have: ${resources.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")})`);
  return r;
}

export function workload(resources: Resource[], kind: string, name: string): Workload {
  const w = workloads(resources).find((x) => x.id === `${kind}/${name}`);
  if (!w) throw new Error(`${kind}/${name} is not in the render`);
  return w;
}

export function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** Does a label selector (matchLabels and matchExpressions: In, NotIn, Exists, DoesNotExist) select these labels? */
export function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] } | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byExpression = (selector.matchExpressions ?? []).every((r) => {
    switch (r.operator) {
      case "In": return labels[r.key] !== undefined && (r.values ?? []).includes(labels[r.key]);
      case "NotIn": return labels[r.key] === undefined || !(r.values ?? []).includes(labels[r.key]);
      case "Exists": return labels[r.key] !== undefined;
      case "DoesNotExist": return labels[r.key] === undefined;
      default: throw new Error(`selector operator '${r.operator}' is not a Kubernetes label selector operator`);
    }
  });
  return byExpression && Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}
