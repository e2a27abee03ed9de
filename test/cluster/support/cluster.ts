// A cluster of hosts on one machine: each host is a network namespace with one veth link to a bridge that
// lives in its own "switch" namespace, so nothing is added to the machine's own network and traffic goes
// only between the namespaces made here. Hosts find each other by name through their own hosts file
// (/etc/netns/<ns>/hosts, which `ip netns exec` bind-mounts over /etc/hosts) and each has its own working
// directory (cwd, HOME, TMPDIR). Every namespace, link, hosts dir and process is torn down by destroy(),
// also from an exit or signal handler (cleanup.ts) and, for a run that crashed, by the next run's sweep.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerCleanup } from "./cleanup.js";
import { orphanedClusters } from "./owners.js";
import { ip, ipQuiet, netnsPids } from "./ip.js";

/** Every namespace this harness makes is named `lspoc-<id>-<role>`; the sweep looks for this prefix. */
export const NS_PREFIX = "lspoc-";
const NS_RE = /^lspoc-([0-9a-f]{6})-/;
/** Where a host's own directory waits while the tmpfs covers the cluster's (see exec): outside tmpDir. */
const HANDOVER = "/run/lspo-cluster-handover";

/** Who owns which cluster: `<id>.json` {pid, tmpDir}; a namespace whose owner is dead is swept. */
const OWNERS = "/run/lspo-cluster";

export interface Host {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** The host's working directory: nothing else of the machine is meant to be its disk. */
  readonly dir: string;
  /** The switch-side end of its link: cutting it looks to the host like a pulled cable. */
  readonly port: string;
}

export interface ExecOptions {
  env?: Record<string, string>;
  /** Names the process (and its log, `<host dir>/logs/<name>.log`); defaults to the command's base name. */
  name?: string;
  cwd?: string;
  /** "pipe": stdout comes back on proc.child.stdout (stderr still goes to the log). */
  stdout?: "log" | "pipe";
}

export interface Proc {
  readonly name: string;
  readonly host: Host;
  readonly pid: number;
  readonly log: string;
  readonly child: ChildProcess;
  /** Resolves when the process ends, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** How it was started, so restart() can start it again the same way. */
  readonly spec: { cmd: string; args: string[]; opts: ExecOptions };
}

export interface ClusterOptions {
  hosts: string[];
  /** Keep host directories (logs, stores) after destroy(), e.g. to read a failed run's logs. */
  keepDirs?: boolean;
}

export class Cluster {
  readonly id: string;
  /** Third octet of 10.213.<k>.0/24: differs between clusters so two suites' addresses never look alike. */
  readonly subnet: string;
  readonly tmpDir: string;
  readonly switchNs: string;
  private readonly hostMap = new Map<string, Host>();
  private readonly procs: Proc[] = [];
  private destroyed = false;
  private readonly unregister: () => void;

  private constructor(private readonly opts: ClusterOptions) {
    const id = randomBytes(3).toString("hex");
    this.id = id;
    this.subnet = `10.213.${1 + (parseInt(id, 16) % 254)}`;
    this.tmpDir = mkdtempSync(join(tmpdir(), `lspo-cluster-${id}-`));
    this.switchNs = `${NS_PREFIX}${id}-sw`;
    // Owner record first: a crash between here and the end of create() still leaves the sweep a trail.
    mkdirSync(OWNERS, { recursive: true });
    writeFileSync(join(OWNERS, `${id}.json`), JSON.stringify({ pid: process.pid, tmpDir: this.tmpDir }));
    this.unregister = registerCleanup(() => this.destroy());
  }

  /** Sweeps leftovers of crashed runs, then builds the switch and one host per name. */
  static create(opts: ClusterOptions): Cluster {
    sweepStale();
    const c = new Cluster(opts);
    try {
      c.build();
    } catch (e) {
      c.destroy();
      throw e;
    }
    return c;
  }

  private build(): void {
    if (new Set(this.opts.hosts).size !== this.opts.hosts.length) throw new Error(`duplicate host names: ${this.opts.hosts.join(", ")}`);
    ip("netns", "add", this.switchNs);
    ip("-n", this.switchNs, "link", "add", "br0", "type", "bridge");
    ip("-n", this.switchNs, "link", "set", "br0", "up");
    this.opts.hosts.forEach((name, i) => {
      const host: Host = {
        name,
        ns: `${NS_PREFIX}${this.id}-${name}`,
        ip: `${this.subnet}.${10 + i}`,
        dir: join(this.tmpDir, name),
        port: `p${i}`, // link names are limited to 15 chars; inside the switch namespace a short one is unique
      };
      this.hostMap.set(name, host);
      ip("netns", "add", host.ns);
      // Made inside the switch namespace with its peer placed straight into the host's: the machine's own
      // namespace never holds either end, even for a moment.
      ip("-n", this.switchNs, "link", "add", host.port, "type", "veth", "peer", "name", "eth0", "netns", host.ns);
      ip("-n", this.switchNs, "link", "set", host.port, "master", "br0", "up");
      ip("-n", host.ns, "addr", "add", `${host.ip}/24`, "dev", "eth0");
      ip("-n", host.ns, "link", "set", "eth0", "up");
      ip("-n", host.ns, "link", "set", "lo", "up");
      for (const sub of ["home", "tmp", "logs"]) mkdirSync(join(host.dir, sub), { recursive: true });
    });
    const hostsFile = ["127.0.0.1 localhost", "::1 localhost ip6-localhost", ...this.hosts.map((h) => `${h.ip} ${h.name}`)].join("\n") + "\n";
    for (const h of this.hosts) {
      mkdirSync(`/etc/netns/${h.ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${h.ns}/hosts`, hostsFile);
    }
  }

  get hosts(): Host[] {
    return [...this.hostMap.values()];
  }

  host(name: string): Host {
    const h = this.hostMap.get(name);
    if (!h) throw new Error(`no host '${name}' in this cluster; hosts: ${[...this.hostMap.keys()].join(", ")}`);
    return h;
  }

  /** Every namespace this cluster made (the switch's and one per host). */
  get namespaces(): string[] {
    return [this.switchNs, ...this.hosts.map((h) => h.ns)];
  }

  /**
   * Starts `cmd args` on a host (`ip netns exec`, which execs it: the pid is the command's). Its own process
   * group, so teardown can kill it with its children; output to its log; a minimal environment so nothing
   * of the driver's (vitest's variables, the machine's proxies) leaks into the host.
   */
  exec(hostName: string, cmd: string, args: string[], opts: ExecOptions = {}): Proc {
    if (this.destroyed) throw new Error("cluster destroyed");
    const host = this.host(hostName);
    const name = opts.name ?? cmd.split("/").pop()!;
    const log = join(host.dir, "logs", `${name}.log`);
    const fd = openSync(log, "a");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: join(host.dir, "home"),
      TMPDIR: join(host.dir, "tmp"),
      LANG: "C.UTF-8",
      ...(process.env.CI ? { CI: process.env.CI } : {}),
      ...opts.env,
    };
    // Its own mount namespace too: the cluster's directory is covered by an empty tmpfs with only this
    // host's directory put back, so a process cannot read another host's files (the repository checkout,
    // standing in for the installed image, stays visible). `exec` all the way: the pid is the command's.
    const isolate = [
      "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
      'set -e; mkdir -p "$3"; mount --bind "$1" "$3"; mount -t tmpfs -o size=1m,mode=0755 lspo-cluster "$2"; mkdir -p "$1"; mount --move "$3" "$1"; shift 3; exec "$@"',
      "sh", host.dir, this.tmpDir, join(HANDOVER, `${this.id}-${host.name}`),
    ];
    const child = spawn("ip", ["netns", "exec", host.ns, ...isolate, cmd, ...args], { cwd: opts.cwd ?? host.dir, env, detached: true, stdio: ["ignore", opts.stdout === "pipe" ? "pipe" : fd, fd] });
    closeSync(fd);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: -1, signal: null }));
    });
    let done = false;
    void exited.then(() => (done = true));
    const proc: Proc = { name, host, pid: child.pid ?? -1, log, child, exited, alive: () => !done, spec: { cmd, args, opts } };
    this.procs.push(proc);
    return proc;
  }

  /** Runs a short command on a host and collects its stdout (a probe); killed at `timeoutMs`. Tracked like
   *  exec()'s processes, so teardown kills it too. */
  async run(hostName: string, cmd: string, args: string[], opts: ExecOptions & { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string }> {
    const proc = this.exec(hostName, cmd, args, { ...opts, stdout: "pipe" });
    let stdout = "";
    proc.child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => this.killProcess(proc), opts.timeoutMs ?? 60_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    return { code, stdout };
  }

  /** Processes started on a host (or on all), newest last. */
  processes(hostName?: string): Proc[] {
    return this.procs.filter((p) => !hostName || p.host.name === hostName);
  }

  killProcess(proc: Proc, signal: NodeJS.Signals = "SIGKILL"): void {
    killGroup(proc.pid, signal);
  }

  /** Starts a process again the way it was first started (same host, command, environment, log). */
  restart(proc: Proc): Proc {
    return this.exec(proc.host.name, proc.spec.cmd, proc.spec.args, { ...proc.spec.opts, name: proc.name });
  }

  /** A dead machine: every process in the host's namespace SIGKILLed and its link down. */
  killHost(hostName: string): void {
    const host = this.host(hostName);
    ip("-n", this.switchNs, "link", "set", host.port, "down");
    killNamespace(host.ns, this.processes(hostName).map((p) => p.pid));
  }

  /** Pulls the host's cable: its processes live on but reach nobody and nobody reaches them. With `ms`,
   *  plugs it back in after that long (the promise resolves then). */
  cutLink(hostName: string, ms?: number): Promise<void> {
    ip("-n", this.switchNs, "link", "set", this.host(hostName).port, "down");
    if (ms === undefined) return Promise.resolve();
    return new Promise((resolve) => setTimeout(() => (this.restoreLink(hostName), resolve()), ms));
  }

  restoreLink(hostName: string): void {
    if (this.destroyed) return;
    ip("-n", this.switchNs, "link", "set", this.host(hostName).port, "up");
  }

  /** Tears everything down: processes, namespaces (their links go with them), hosts files, directories. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.unregister();
    const ownPids = this.procs.map((p) => p.pid);
    teardownNamespaces(this.namespaces, ownPids);
    if (!this.opts.keepDirs) rmSync(this.tmpDir, { recursive: true, force: true });
    removeHandovers(this.id);
    rmSync(join(OWNERS, `${this.id}.json`), { force: true });
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** SIGKILLs the given process groups and then everything still in the namespace (a child that made its
 *  own session escapes its group but not its namespace), until the namespace is empty. */
function killNamespace(ns: string, groups: number[]): void {
  for (const pid of groups) killGroup(pid, "SIGKILL");
  for (let i = 0; i < 50; i++) {
    const left = netnsPids(ns);
    if (left.length === 0) return;
    for (const pid of left) killGroup(pid, "SIGKILL");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // a synchronous 20 ms pause
  }
}

function teardownNamespaces(namespaces: string[], groups: number[]): void {
  for (const ns of namespaces) killNamespace(ns, groups);
  // Deleting a namespace destroys the veth ends in it, and with them their peers.
  for (const ns of namespaces) {
    ipQuiet("netns", "del", ns);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
}

/** The handover mount points of cluster `id` (empty directories once its processes are gone). */
function removeHandovers(id: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(HANDOVER);
  } catch {
    return; // none made yet
  }
  for (const n of names) if (n.startsWith(`${id}-`)) rmSync(join(HANDOVER, n), { recursive: true, force: true });
}

/** Removes what a crashed earlier run left: namespaces with this harness's prefix whose owner process is
 *  gone (a cluster of a live run, e.g. a second suite running now, is left alone). */
export function sweepStale(): string[] {
  const swept: string[] = [];
  for (const { id, namespaces, owner } of orphanedClusters<{ pid: number; tmpDir?: string }>(NS_RE, OWNERS)) {
    teardownNamespaces(namespaces, []);
    if (owner?.tmpDir) rmSync(owner.tmpDir, { recursive: true, force: true });
    rmSync(join(OWNERS, `${id}.json`), { force: true });
    removeHandovers(id);
    swept.push(...namespaces);
  }
  if (swept.length) process.stderr.write(`[cluster] swept leftovers of a crashed run: ${swept.join(", ")}\n`);
  return swept;
}
