// One pod on one node, run as the kubelet would: volumes made, init containers in order to completion,
// then the containers, each in its own mount and UTS namespace inside the pod's network namespace, as the
// securityContext's user; probes (startup gates liveness and readiness), liveness restarts, restart
// policy with back-off. The pod reports changes (ready, phase) through onChange.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { type EnvSources, type PodFields, resolveEnv } from "./env.js";
import { imageRun, type ImageRun } from "./image.js";
import type { Container, PodSpec } from "./manifests.js";
import type { NamespaceCluster } from "./netns.js";
import { execProbe, type NodeProber } from "./prober.js";
import { containerProbes, type Probe, ProbeState } from "./probes.js";
import { containerMounts, missingAncestors, mountScript, type VolumeSources, materializeVolumes } from "./volumes.js";

export type Phase = "Pending" | "Running" | "Succeeded" | "Failed";

export interface PodContext {
  cluster: NamespaceCluster;
  repoRoot: string;
  natsServer: string;
  prober: NodeProber;
  nodeIp: string;
  env: EnvSources;
  volumes: VolumeSources;
  onChange(): void;
  /** A pod that can never start (a missing ConfigMap, an unknown image): the check stops with the reason. */
  fatal(msg: string): void;
  log(msg: string): void;
}

export interface PodInit {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  spec: PodSpec;
  nodeName: string;
  ns: string;
  ip: string;
  gpuIds: Map<string, number[]>;
  /** StatefulSet pods: volume name -> claim name (`<template>-<pod>`) */
  claims: Map<string, string>;
  hostname?: string;
  subdomain?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class ContainerRun {
  proc?: ChildProcess;
  pid = -1;
  generation = 0;
  restarts = 0;
  running = false;
  started = false;
  ready = false;
  exitCode: number | null = null;
  /** setpriv prefix of its command: exec probes run as the same user */
  user: string[] = [];
  /** the last failed probe's message, cleared by a success */
  lastProbe?: string;
  readonly out: string;
  readonly err: string;
  readonly probes: Probe[];
  constructor(readonly c: Container, readonly dir: string, readonly init: boolean) {
    this.out = join(dir, `${c.name}.out.log`);
    this.err = join(dir, `${c.name}.err.log`);
    this.probes = init ? [] : containerProbes(c);
  }
}

export class PodRuntime {
  phase: Phase = "Pending";
  readonly dir: string;
  probeFailures = 0;
  livenessRestarts = 0;
  /** why the pod failed or waits, for the report */
  reason = "";
  private containers: ContainerRun[] = [];
  private inits: ContainerRun[] = [];
  private stopping = false;
  private volumeDirs = new Map<string, string>();

  constructor(readonly p: PodInit, private readonly ctx: PodContext) {
    this.dir = join(ctx.cluster.tmpDir, "pods", p.name);
    mkdirSync(join(this.dir, "logs"), { recursive: true });
  }

  get restarts(): number {
    return [...this.inits, ...this.containers].reduce((s, c) => s + c.restarts, 0);
  }
  get ready(): boolean {
    return this.phase === "Running" && this.containers.length > 0 && this.containers.every((c) => c.ready);
  }
  /** log files of every container, for error messages */
  get logs(): string[] {
    return [...this.inits, ...this.containers].flatMap((c) => [c.out, c.err]).filter((f) => existsSync(f));
  }

  private fields(): PodFields {
    return { name: this.p.name, namespace: this.p.namespace, ip: this.p.ip, nodeName: this.p.nodeName, labels: this.p.labels, serviceAccountName: (this.p.spec as any).serviceAccountName, hostIP: this.ctx.nodeIp };
  }

  async start(): Promise<void> {
    try {
      this.volumeDirs = materializeVolumes(this.p.name, this.p.spec, this.dir, this.ctx.volumes, (v) => this.p.claims.get(v));
      this.inits = (this.p.spec.initContainers ?? []).map((c) => new ContainerRun(c, join(this.dir, "logs"), true));
      this.containers = this.p.spec.containers.map((c) => new ContainerRun(c, join(this.dir, "logs"), false));
      for (const ic of this.inits) {
        for (;;) {
          if (this.stopping) return;
          const code = await this.runOnce(ic);
          if (code === 0) break;
          if ((this.p.spec.restartPolicy ?? "Always") === "Never") return this.fail(`init container ${ic.c.name} exited ${code}`);
          ic.restarts++;
          await sleep(backoff(ic.restarts));
        }
      }
      this.phase = "Running";
      for (const cr of this.containers) this.launch(cr);
      this.ctx.onChange();
    } catch (e) {
      this.cannotStart(e as Error);
    }
  }

  /** On a real cluster the pod would sit in ContainerCreating / CreateContainerConfigError for ever. */
  private cannotStart(e: Error): void {
    this.fail(e.message);
    this.ctx.fatal(`pod ${this.p.name} (namespace ${this.p.namespace}) cannot start: ${e.message}`);
  }

  private fail(reason: string): void {
    this.phase = "Failed";
    this.reason = reason;
    this.ctx.log(`pod ${this.p.name} failed: ${reason}`);
    this.ctx.onChange();
  }

  /** The argv that starts a container: its namespaces, mounts, user, then the image's command. */
  private argv(cr: ContainerRun, run: ImageRun): { argv: string[]; user: string[] } {
    const plans = containerMounts(cr.c, this.volumeDirs, this.p.name);
    // a mount point an earlier container made counts as missing: every container gets the same layout
    const missing = missingAncestors(plans, (path) => existsSync(path) && !this.ctx.cluster.madeHere(path));
    for (const m of missing) this.ctx.cluster.ensureMountPoint(m.path, m.file);
    const view = { repo: this.ctx.repoRoot, stage: join(this.dir, "image-view"), cwd: cr.c.workingDir ?? run.cwd };
    const script = mountScript(plans, missing.filter((m) => !m.isTarget).map((m) => m.path), this.p.name, view);
    const sc = { ...this.p.spec.securityContext, ...cr.c.securityContext } as any;
    const uid: number = sc.runAsUser ?? run.user.uid;
    const gid: number = sc.runAsGroup ?? run.user.gid;
    if (sc.runAsNonRoot && uid === 0) throw new Error(`container ${cr.c.name}: runAsNonRoot is set but it would run as uid 0 (CreateContainerConfigError)`);
    const fsGroup = this.p.spec.securityContext?.fsGroup;
    const user = uid === 0 && gid === 0 ? [] : ["setpriv", "--reuid", String(uid), "--regid", String(gid), ...(fsGroup !== undefined ? ["--groups", String(fsGroup)] : ["--clear-groups"]), "--no-new-privs", "--"];
    const argv = ["netns", "exec", this.p.ns, "unshare", "--mount", "--uts", "--propagation", "private", "/bin/sh", "-c", script, "sh", ...user, run.cmd, ...run.args];
    return { argv, user };
  }

  private spawn(cr: ContainerRun): ChildProcess {
    const run = imageRun(cr.c, this.ctx.repoRoot, this.ctx.natsServer);
    const env = resolveEnv(cr.c, this.fields(), this.ctx.env, run.env);
    const ids = this.p.gpuIds.get(cr.c.name);
    if (ids) env.NVIDIA_VISIBLE_DEVICES = ids.join(",");
    env.HOSTNAME = this.p.name;
    env.HOME ??= run.home;
    const { argv, user } = this.argv(cr, run);
    cr.user = user;
    const out = openSync(cr.out, "a");
    const err = openSync(cr.err, "a");
    const child = spawn("ip", argv, { cwd: cr.c.workingDir ?? run.cwd, env, detached: true, stdio: ["ignore", out, err] });
    closeSync(out);
    closeSync(err);
    cr.proc = child;
    cr.pid = child.pid ?? -1;
    if (cr.pid > 0) this.ctx.cluster.trackGroup(cr.pid);
    cr.running = true;
    cr.exitCode = null;
    return child;
  }

  private runOnce(cr: ContainerRun): Promise<number | null> {
    const child = this.spawn(cr);
    return new Promise((resolve) => child.once("exit", (code, signal) => ((cr.running = false), (cr.exitCode = code ?? (signal ? 128 : -1)), resolve(cr.exitCode))));
  }

  private launch(cr: ContainerRun): void {
    if (this.stopping) return; // the check ended while an init container or a back-off was running
    const gen = ++cr.generation;
    cr.started = false;
    cr.ready = false;
    let child: ChildProcess;
    try {
      child = this.spawn(cr);
    } catch (e) {
      return this.cannotStart(e as Error);
    }
    child.once("exit", (code, signal) => {
      cr.running = false;
      cr.exitCode = code ?? (signal ? 128 : -1);
      if (gen !== cr.generation) return;
      cr.generation++; // stops this run's probes
      const wasReady = cr.ready;
      cr.ready = false;
      if (this.stopping) return;
      const policy = this.p.spec.restartPolicy ?? "Always";
      if (policy === "Always" || (policy === "OnFailure" && cr.exitCode !== 0)) {
        cr.restarts++;
        this.ctx.log(`pod ${this.p.name}: container ${cr.c.name} exited ${cr.exitCode}; restart ${cr.restarts}`);
        if (wasReady) this.ctx.onChange();
        setTimeout(() => !this.stopping && this.launch(cr), backoff(cr.restarts));
        return;
      }
      if (this.containers.every((x) => !x.running)) {
        this.phase = this.containers.every((x) => x.exitCode === 0) ? "Succeeded" : "Failed";
        if (this.phase === "Failed") this.reason = this.containers.map((x) => `${x.c.name} exited ${x.exitCode}`).join(", ");
      }
      this.ctx.onChange();
    });
    void this.probeLoops(cr, gen);
  }

  private async runProbe(cr: ContainerRun, probe: Probe): Promise<boolean> {
    const timeoutMs = probe.timeoutSeconds * 1000;
    const a = probe.action;
    const r = a.kind === "exec" ? await execProbe(cr.pid, cr.user, a.command, timeoutMs) : await this.ctx.prober.probe(this.p.ip, a, timeoutMs);
    if (!r.ok) {
      this.probeFailures++;
      cr.lastProbe = `${probe.type} probe failed: ${r.message}`;
    } else cr.lastProbe = undefined;
    return r.ok;
  }

  private async probeLoops(cr: ContainerRun, gen: number): Promise<void> {
    const alive = () => gen === cr.generation && !this.stopping;
    const startup = cr.probes.find((p) => p.type === "startup");
    if (startup) {
      const st = new ProbeState(startup);
      await sleep(startup.initialDelaySeconds * 1000);
      for (;;) {
        if (!alive()) return;
        st.record(await this.runProbe(cr, startup));
        if (!alive()) return;
        if (st.ok) break;
        if (st.failedOut) return this.restartForProbe(cr, gen, "startup");
        await sleep(startup.periodSeconds * 1000);
      }
    }
    cr.started = true;
    const readiness = cr.probes.find((p) => p.type === "readiness");
    if (!readiness) (cr.ready = true), this.ctx.onChange();
    for (const probe of cr.probes.filter((p) => p.type !== "startup")) {
      void (async () => {
        const st = new ProbeState(probe);
        // with a startup probe, the others start when it succeeds; their initial delay counts from then
        await sleep(probe.initialDelaySeconds * 1000);
        while (alive()) {
          const changed = st.record(await this.runProbe(cr, probe));
          if (!alive()) return;
          if (probe.type === "readiness" && changed) (cr.ready = st.ok), this.ctx.onChange();
          if (probe.type === "liveness" && st.failedOut) return this.restartForProbe(cr, gen, "liveness");
          await sleep(probe.periodSeconds * 1000);
        }
      })();
    }
  }

  /** Liveness (or startup) failed past its threshold: the kubelet kills the container; restartPolicy decides. */
  private restartForProbe(cr: ContainerRun, gen: number, type: string): void {
    if (gen !== cr.generation) return;
    this.livenessRestarts++;
    this.ctx.log(`pod ${this.p.name}: container ${cr.c.name} failed its ${type} probe (${cr.lastProbe}); killing it`);
    this.killContainer(cr, Math.min(this.p.spec.terminationGracePeriodSeconds ?? 30, 10));
  }

  private killContainer(cr: ContainerRun, graceS: number): void {
    const pid = cr.pid;
    if (pid <= 0 || !cr.running) return;
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      /* gone */
    }
    setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, graceS * 1000).unref();
  }

  /** Last probe failure messages and container states, for error reports. */
  describe(): string {
    const cs = [...this.inits, ...this.containers].map((c) => `${c.c.name}: ${c.running ? "running" : `exited ${c.exitCode}`}, restarts ${c.restarts}, ready ${c.ready}${c.lastProbe ? `, last ${c.lastProbe}` : ""}`);
    return `${this.p.name} on ${this.p.nodeName} (${this.p.ip}) ${this.phase}${this.reason ? ` (${this.reason})` : ""}: ${cs.join("; ")}`;
  }

  stop(): void {
    this.stopping = true;
    for (const c of [...this.inits, ...this.containers]) this.killContainer(c, 2);
  }
}

/** The kubelet's crash-loop back-off (10 s doubling to 5 min), shortened 10x: this check runs minutes. */
export function backoff(restarts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, restarts - 1), 30_000);
}
