// The nodes of the namespace cluster and where each pod goes. Pools follow the manifests: the labels the
// DaemonSets select get the N base nodes (a DaemonSet whose labels conflict with those gets N nodes of its
// own), any other nodeSelector no node satisfies gets one extra node. Nodes of pools whose workloads request
// nvidia.com/gpu have G GPUs, handed out as the NVIDIA device plugin does: k distinct ids per container.
// Taints/tolerations and CPU/memory requests are ignored (README).
import { type Container, type Labels, type Workload } from "./manifests.js";

export interface Node {
  name: string;
  labels: Labels;
  gpus: number;
}

const GPU = "nvidia.com/gpu";

export function matchesNode(selector: Labels | undefined, node: Node): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => node.labels[k] === v);
}

function conflicts(a: Labels, b: Labels): boolean {
  return Object.entries(b).some(([k, v]) => k in a && a[k] !== v);
}

export function gpuRequest(c: Container): number {
  const v = c.resources?.limits?.[GPU] ?? c.resources?.requests?.[GPU];
  return v === undefined ? 0 : Number(v);
}

export function podGpuRequest(w: Pick<Workload, "spec">): number {
  return w.spec.containers.reduce((s, c) => s + gpuRequest(c), 0);
}

export function planNodes(workloads: Workload[], n: number, gpusPerNode: number): Node[] {
  if (!(n >= 1)) throw new Error(`--nodes must be at least 1 (got ${n})`);
  const nodes: Node[] = [];
  const add = (labels: Labels): Node => {
    const name = `node-${nodes.length + 1}`;
    const node = { name, labels: { "kubernetes.io/os": "linux", ...labels, "kubernetes.io/hostname": name }, gpus: 0 };
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < n; i++) add({});
  const base = [...nodes];
  for (const ds of workloads.filter((w) => w.kind === "DaemonSet" && w.spec.nodeSelector)) {
    const sel = ds.spec.nodeSelector!;
    if (nodes.some((x) => matchesNode(sel, x)) && nodes.filter((x) => matchesNode(sel, x)).length >= n) continue;
    if (!conflicts(base[0].labels, sel)) for (const b of base) Object.assign(b.labels, sel);
    else for (let i = 0; i < n; i++) add(sel);
  }
  for (const w of workloads.filter((w) => w.kind !== "DaemonSet" && w.spec.nodeSelector)) {
    if (!nodes.some((x) => matchesNode(w.spec.nodeSelector, x))) add(w.spec.nodeSelector!);
  }
  for (const w of workloads.filter((w) => podGpuRequest(w) > 0)) {
    for (const x of nodes) if (w.spec.nodeSelector ? matchesNode(w.spec.nodeSelector, x) : base.includes(x)) x.gpus = gpusPerNode;
  }
  return nodes;
}

/** Which nodes a DaemonSet runs on. */
export function daemonSetNodes(ds: Workload, nodes: Node[]): Node[] {
  return nodes.filter((x) => matchesNode(ds.spec.nodeSelector, x));
}

/** GPU ids in use per node, and pod counts for spreading. */
export class Scheduler {
  private readonly used = new Map<string, Set<number>>();
  private readonly pods = new Map<string, number>();
  /** `baseCount`: node-1..N, where a pod without a nodeSelector goes (the pools' extra nodes are theirs). */
  constructor(readonly nodes: Node[], private readonly baseCount = nodes.length) {}

  /** Places a pod (on `only` for a DaemonSet) and hands its containers their GPU ids; throws with the
   *  reason a real scheduler would give when nothing fits (the pod stays Pending). */
  place(podName: string, spec: Workload["spec"], only?: string): { node: Node; gpuIds: Map<string, number[]> } {
    const need = spec.containers.reduce((s, c) => s + gpuRequest(c), 0);
    const candidates = this.nodes.filter((x, i) => (only ? x.name === only : spec.nodeSelector && Object.keys(spec.nodeSelector).length ? matchesNode(spec.nodeSelector, x) : i < this.baseCount));
    if (candidates.length === 0) throw new Error(`pod ${podName} is Pending: no node matches nodeSelector ${JSON.stringify(spec.nodeSelector ?? {})}`);
    const fits = candidates.filter((x) => x.gpus - (this.used.get(x.name)?.size ?? 0) >= need);
    if (fits.length === 0) {
      const free = candidates.map((x) => `${x.name}: ${x.gpus - (this.used.get(x.name)?.size ?? 0)} of ${x.gpus} free`).join(", ");
      throw new Error(`pod ${podName} is Pending: it requests ${need} ${GPU} and no node has that many free (${free})`);
    }
    const node = fits.reduce((a, b) => ((this.pods.get(b.name) ?? 0) < (this.pods.get(a.name) ?? 0) ? b : a));
    const used = this.used.get(node.name) ?? new Set<number>();
    this.used.set(node.name, used);
    const gpuIds = new Map<string, number[]>();
    for (const c of spec.containers) {
      const k = gpuRequest(c);
      if (k === 0) continue;
      const ids: number[] = [];
      for (let id = 0; id < node.gpus && ids.length < k; id++) if (!used.has(id)) (used.add(id), ids.push(id));
      gpuIds.set(c.name, ids);
    }
    this.pods.set(node.name, (this.pods.get(node.name) ?? 0) + 1);
    return { node, gpuIds };
  }

  release(nodeName: string, gpuIds: Map<string, number[]>): void {
    const used = this.used.get(nodeName);
    for (const ids of gpuIds.values()) for (const id of ids) used?.delete(id);
    this.pods.set(nodeName, Math.max(0, (this.pods.get(nodeName) ?? 1) - 1));
  }
}
