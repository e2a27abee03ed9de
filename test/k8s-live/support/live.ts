// The live check: the rendered overlay run on a cluster of network namespaces until Job lspo-train
// completes, a pod cannot be placed, a NetworkPolicy drops a pod's connection, or time runs out.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Node, Scheduler, daemonSetNodes, planNodes } from "./nodes.js";
import { type Resource, type Workload, byKind, configMapData, lookup, namespaceOf, secretBytes, secretData, workloadsOf } from "./manifests.js";
import { NamespaceCluster, type Endpoint } from "./netns.js";
import { type Blocked, type PodNet, chainScript, describeBlocked, parseBlockedSets, tableScript } from "./netpol.js";
import { NodeProber } from "./prober.js";
import { PodRuntime } from "./kubelet.js";
import { hostsFile, isHeadless, serviceNatScript, type PodEndpoint } from "./services.js";
import { provisionClaim } from "./volumes.js";
import { writeFileSync } from "node:fs";
import { parse } from "yaml";

export interface LiveConfig {
  repoRoot: string;
  natsServer: string;
  resources: Resource[];
  nodes: number;
  gpusPerNode: number;
  pvc: Map<string, string>;
  timeoutS: number;
  keep: boolean;
  log(msg: string): void;
}

export interface LiveResult {
  nodes: Array<{ name: string; labels: Record<string, string>; gpus: number }>;
  pods: Array<{ name: string; node: string; ip: string; phase: string; ready: boolean; restarts: number; probeFailures: number; probeRestarts: number; gpuIds?: Record<string, number[]> }>;
  run?: Record<string, unknown> & { completed: boolean };
  actors?: unknown[];
  error?: string;
  tmpDir: string;
}

class CheckFailed extends Error {}

interface LiveNode extends Node {
  ep: Endpoint;
  prober: NodeProber;
}

export async function runLive(cfg: LiveConfig): Promise<LiveResult> {
  const cluster = new NamespaceCluster(cfg.keep);
  const live = new Live(cfg, cluster);
  try {
    await live.run();
  } catch (e) {
    live.error = e instanceof CheckFailed ? e.message : `${(e as Error).stack ?? e}`;
  } finally {
    live.stopAll();
  }
  const result = live.result();
  // give SIGTERMed containers a moment, then everything goes (kept dirs stay with --keep)
  await new Promise((r) => setTimeout(r, 500));
  // after a failure the logs stay (their paths are in the error); everything else goes
  cluster.destroy(result.error !== undefined);
  return result;
}

class Live {
  error?: string;
  private readonly pods: PodRuntime[] = [];
  private nodes: LiveNode[] = [];
  private readonly vips = new Map<string, string>();
  private readonly services: Resource[];
  private readonly policies: Resource[];
  private readonly namespaces: Array<{ name: string; labels: Record<string, string> }>;
  private syncTimer?: NodeJS.Timeout;
  private failure?: string;
  private runOutput?: Record<string, unknown>;
  private jobDone = false;
  private jobPod?: PodRuntime;
  private readonly claimDirs = new Map<string, string>();

  constructor(private readonly cfg: LiveConfig, private readonly cluster: NamespaceCluster) {
    this.services = byKind(cfg.resources, "Service");
    this.policies = byKind(cfg.resources, "NetworkPolicy");
    this.namespaces = byKind(cfg.resources, "Namespace").map((n) => ({ name: n.metadata.name, labels: { "kubernetes.io/metadata.name": n.metadata.name, ...(n.metadata.labels ?? {}) } }));
  }

  async run(): Promise<void> {
    const workloads = workloadsOf(this.cfg.resources);
    const planned = planNodes(workloads, this.cfg.nodes, this.cfg.gpusPerNode);
    this.nodes = planned.map((n, i) => {
      const ep = this.cluster.addNode(i + 1);
      const prober = new NodeProber(ep.ns, this.cfg.repoRoot, (pid) => this.cluster.trackGroup(pid));
      return { ...n, ep, prober };
    });
    this.cfg.log(`nodes: ${this.nodes.map((n) => `${n.name} (${n.ep.ip}, gpus ${n.gpus}, ${JSON.stringify(n.labels)})`).join("; ")}`);
    for (const s of this.services) if (!isHeadless(s)) this.vips.set(`${namespaceOf(s)}/${s.metadata.name}`, this.cluster.allocateVip());
    const scheduler = new Scheduler(this.nodes, this.cfg.nodes);
    const deadline = Date.now() + this.cfg.timeoutS * 1000;
    const job = workloads.find((w) => w.kind === "Job");
    if (!job) throw new CheckFailed("the overlay has no Job: nothing to run to completion");

    const starters: Array<Promise<void>> = [];
    for (const w of workloads) {
      if (w.kind === "StatefulSet") starters.push(this.startStatefulSet(w, scheduler));
      else if (w.kind === "DaemonSet") for (const n of daemonSetNodes(w, this.nodes)) this.startPod(w, `${w.name}-${suffix()}`, scheduler, n.name);
      else if (w.kind === "Deployment") for (let i = 0; i < ((w.resource as any).spec.replicas ?? 1); i++) this.startPod(w, `${w.name}-${suffix()}-${suffix(5)}`, scheduler);
    }
    void Promise.all(starters).catch((e) => (this.failure ??= (e as Error).message));
    void this.runJob(job, scheduler);

    while (!this.jobDone && !this.failure) {
      if (Date.now() > deadline) this.failure = `timed out after ${this.cfg.timeoutS} s before Job ${job.name} completed\n${this.tails(this.jobPod ? [this.jobPod] : [])}`;
      await sleep(1000);
      this.checkBlocked();
    }
    this.checkBlocked();
    if (this.failure) throw new CheckFailed(`${this.failure}\npods:\n${this.podStates()}`);
  }

  private async startStatefulSet(w: Workload, scheduler: Scheduler): Promise<void> {
    const spec = (w.resource as any).spec;
    const parallel = spec.podManagementPolicy === "Parallel";
    for (let i = 0; i < (spec.replicas ?? 1); i++) {
      const pod = this.startPod(w, `${w.name}-${i}`, scheduler, undefined, { hostname: `${w.name}-${i}`, subdomain: spec.serviceName, claims: new Map((spec.volumeClaimTemplates ?? []).map((t: any) => [t.metadata.name, `${t.metadata.name}-${w.name}-${i}`])) });
      // OrderedReady: each pod Running and Ready before the next is made
      while (!parallel && pod && !pod.ready && !this.failure && !this.jobDone) await sleep(500);
    }
  }

  private async runJob(w: Workload, scheduler: Scheduler): Promise<void> {
    const backoffLimit = (w.resource as any).spec.backoffLimit ?? 6;
    for (let attempt = 0; attempt <= backoffLimit; attempt++) {
      const pod = this.startPod(w, `${w.name}-${suffix(5)}`, scheduler, undefined, { restartPolicy: w.spec.restartPolicy ?? "Never" });
      if (!pod) return;
      this.jobPod = pod;
      while (pod.phase !== "Succeeded" && pod.phase !== "Failed" && !this.failure) await sleep(500);
      if (this.failure) return;
      scheduler.release(pod.p.nodeName, pod.p.gpuIds); // a finished pod holds no GPU
      if (pod.phase === "Succeeded") {
        this.runOutput = lastJsonLine(pod.logs.filter((f) => f.endsWith(".out.log")));
        this.jobDone = true;
        return;
      }
      this.cfg.log(`Job ${w.name}: pod ${pod.p.name} failed (${pod.reason}); attempt ${attempt + 1} of ${backoffLimit + 1}`);
    }
    this.failure ??= `Job ${w.name} failed: backoffLimit ${backoffLimit} reached\n${this.tails(this.jobPod ? [this.jobPod] : [])}`;
  }

  private startPod(w: Workload, name: string, scheduler: Scheduler, only?: string, extra: { hostname?: string; subdomain?: string; claims?: Map<string, string>; restartPolicy?: any } = {}): PodRuntime | undefined {
    let placed;
    try {
      placed = scheduler.place(name, w.spec, only);
    } catch (e) {
      this.failure ??= (e as Error).message;
      return undefined;
    }
    const node = this.nodes.find((n) => n.name === placed.node.name)!;
    const ep = this.cluster.addPod();
    const spec = { ...w.spec, restartPolicy: extra.restartPolicy ?? w.spec.restartPolicy ?? "Always" };
    const pod = new PodRuntime(
      { name, namespace: w.namespace, labels: w.labels, spec, nodeName: node.name, ns: ep.ns, ip: ep.ip, gpuIds: placed.gpuIds, claims: extra.claims ?? new Map(), hostname: extra.hostname, subdomain: extra.subdomain },
      {
        cluster: this.cluster,
        repoRoot: this.cfg.repoRoot,
        natsServer: this.cfg.natsServer,
        prober: node.prober,
        nodeIp: node.ep.ip,
        env: { configMap: (n) => this.configMap(w.namespace, n), secret: (n) => this.secret(w.namespace, n) },
        volumes: {
          configMap: (n) => this.configMap(w.namespace, n),
          secret: (n) => {
            const s = lookup(this.cfg.resources, "Secret", w.namespace, n);
            return s ? secretBytes(s) : undefined;
          },
          claim: (c) => this.claim(c),
        },
        onChange: () => this.scheduleSync(),
        fatal: (msg) => (this.failure ??= msg),
        log: this.cfg.log,
      },
    );
    this.pods.push(pod);
    // The pod's firewall is in place before any of its processes run.
    this.cluster.nft(ep.ns, tableScript());
    this.syncNow();
    this.cfg.log(`pod ${name} -> ${node.name} (${ep.ip})${placed.gpuIds.size ? ` gpus ${JSON.stringify(Object.fromEntries(placed.gpuIds))}` : ""}`);
    void pod.start();
    return pod;
  }

  private configMap(ns: string, name: string): Record<string, string> | undefined {
    const r = lookup(this.cfg.resources, "ConfigMap", ns, name);
    return r ? configMapData(r) : undefined;
  }
  private secret(ns: string, name: string): Record<string, string> | undefined {
    const r = lookup(this.cfg.resources, "Secret", ns, name);
    return r ? secretData(r) : undefined;
  }
  private claim(name: string): string {
    let dir = this.claimDirs.get(name);
    if (!dir) {
      dir = provisionClaim(join(this.cluster.tmpDir, "pvc", name), this.cfg.pvc.get(name));
      this.claimDirs.set(name, dir);
    }
    return dir;
  }

  private podNets(): PodNet[] {
    return this.pods.filter((p) => p.phase !== "Failed" && p.phase !== "Succeeded").map((p) => ({ name: p.p.name, namespace: p.p.namespace, ip: p.p.ip, labels: p.p.labels, ports: p.p.spec.containers.flatMap((c) => c.ports ?? []) }));
  }
  private endpoints(): PodEndpoint[] {
    return this.pods.filter((p) => p.phase !== "Failed" && p.phase !== "Succeeded").map((p) => ({ name: p.p.name, namespace: p.p.namespace, ip: p.p.ip, labels: p.p.labels, ports: p.p.spec.containers.flatMap((c) => c.ports ?? []), ready: p.ready, hostname: p.p.hostname, subdomain: p.p.subdomain }));
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      try {
        this.syncNow();
      } catch (e) {
        this.failure ??= `syncing the cluster failed: ${(e as Error).message}`;
      }
    }, 200);
  }

  /** Rewrites every pod's Service DNAT and policy chains, then its hosts file (in place: running processes
   *  see it). Firewalls first: a name must never resolve to a pod its peers' policies do not know yet. */
  private syncNow(): void {
    const nets = this.podNets();
    const eps = this.endpoints();
    const nat = serviceNatScript(this.services, this.vips, eps);
    const running = this.pods.filter((p) => p.phase !== "Failed" && p.phase !== "Succeeded");
    for (const p of running) {
      const node = this.nodes.find((n) => n.name === p.p.nodeName)!;
      const me = nets.find((n) => n.name === p.p.name)!;
      this.cluster.nft(p.p.ns, chainScript(me, node.ep.ip, this.policies, nets, this.namespaces) + nat);
    }
    for (const p of running) {
      const self = eps.find((e) => e.name === p.p.name)!;
      writeFileSync(`/etc/netns/${p.p.ns}/hosts`, hostsFile(self, this.services, this.vips, eps));
    }
  }

  /** Reads every pod's drop records, finished pods too (their namespaces stay until teardown): a Job pod's
   *  last connections count. */
  private checkBlocked(): void {
    const named = this.pods.map((p) => ({ name: p.p.name, namespace: p.p.namespace, ip: p.p.ip, labels: p.p.labels, ports: p.p.spec.containers.flatMap((c) => c.ports ?? []) }));
    for (const p of this.pods) {
      let blocked: Blocked[] = [];
      try {
        blocked = parseBlockedSets(this.cluster.nftJson(p.p.ns, "list", "sets", "inet"), p.p.name);
      } catch {
        blocked = []; // its namespace is not made yet or already gone
      }
      if (blocked.length) {
        const svcName = (ip: string) => [...this.vips].find(([, v]) => v === ip)?.[0];
        const lines = blocked.map((b) => describeBlocked(b, named, this.policies, svcName));
        const involved = this.pods.filter((x) => blocked.some((b) => b.at === x.p.name || b.peerIp === x.p.ip));
        this.failure ??= `${lines.join("\n")}\n${this.tails(involved)}`;
        return;
      }
    }
  }

  podStates(): string {
    return this.pods.map((p) => `  ${p.describe()}`).join("\n");
  }

  tails(pods: PodRuntime[], n = 15): string {
    return pods
      .flatMap((p) => p.logs)
      .map((f) => {
        const lines = readFileSync(f, "utf8").trimEnd().split("\n");
        return `--- ${f} (last ${Math.min(n, lines.length)} lines)\n${lines.slice(-n).join("\n")}`;
      })
      .join("\n");
  }

  stopAll(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    for (const p of this.pods) p.stop();
    for (const n of this.nodes) n.prober.close();
  }

  result(): LiveResult {
    const actors = this.readActors();
    return {
      nodes: this.nodes.map((n) => ({ name: n.name, labels: n.labels, gpus: n.gpus })),
      pods: this.pods.map((p) => ({ name: p.p.name, node: p.p.nodeName, ip: p.p.ip, phase: p.phase, ready: p.ready, restarts: p.restarts, probeFailures: p.probeFailures, probeRestarts: p.livenessRestarts, ...(p.p.gpuIds.size ? { gpuIds: Object.fromEntries(p.p.gpuIds) } : {}) })),
      run: this.jobDone ? { completed: true, ...(this.runOutput ?? {}) } : { completed: false },
      ...(actors ? { actors } : {}),
      ...(this.error ? { error: this.error } : {}),
      tmpDir: this.cluster.tmpDir,
    };
  }

  /** summary.json of the run, from the claim the Job's run dir lives on. */
  private readActors(): unknown[] | undefined {
    const pod = this.jobPod;
    if (!pod) return undefined;
    const runYaml = this.configMap(pod.p.namespace, "lspo-run")?.["run.yaml"];
    const dir: unknown = runYaml && parse(runYaml)?.run?.dir;
    if (typeof dir !== "string") return undefined;
    for (const c of pod.p.spec.containers) {
      for (const m of c.volumeMounts ?? []) {
        if (!dir.startsWith(m.mountPath)) continue;
        const v = (pod.p.spec.volumes ?? []).find((x) => x.name === m.name);
        const claim = v?.persistentVolumeClaim?.claimName;
        const host = claim ? this.claimDirs.get(claim) : join(pod.dir, "volumes", m.name);
        const f = host && join(host, dir.slice(m.mountPath.length), "summary.json");
        if (f && existsSync(f)) return JSON.parse(readFileSync(f, "utf8")).actors;
      }
    }
    return undefined;
  }
}

function lastJsonLine(files: string[]): Record<string, unknown> | undefined {
  for (const f of files) {
    const lines = readFileSync(f, "utf8").trim().split("\n").reverse();
    for (const l of lines) {
      try {
        const v = JSON.parse(l);
        if (v && typeof v === "object" && "steps" in v) return v;
      } catch {
        /* not JSON */
      }
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const suffix = (n = 10) => Math.random().toString(36).slice(2, 2 + n).padEnd(n, "x");
