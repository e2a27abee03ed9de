// The machines of the live check: one network namespace per node and per pod, each with one veth link to
// a bridge in a "switch" namespace (the layout of test/cluster/support/cluster.ts: nothing is added to the
// machine's own network). One flat /24 per check, 10.214.<k>.0/24: nodes .2-.31, pods .32-.199, Service
// virtual IPs .200-.254. Everything made here is recorded so that destroy() (also from exit and signal
// handlers) and, after a crash, the next run's sweep remove it.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerCleanup } from "../../cluster/support/cleanup.js";
import { orphanedClusters } from "../../cluster/support/owners.js";
import { ip, ipQuiet, netnsPids, pidAlive } from "../../cluster/support/ip.js";

export const LIVE_PREFIX = "lspok-";
const NS_RE = /^lspok-([0-9a-f]{6})-/;
/** `<id>.json`: {pid, tmpDir, created}; a check whose owner is dead is swept. */
const OWNERS = "/run/lspo-k8s-live";
/** Pods' directories (volumes, logs, claims): on the disk, outside every path a manifest mounts over. */
const WORK_ROOT = "/var/tmp/lspo-k8s-live";

export interface Endpoint {
  ns: string;
  ip: string;
  port: string;
}

export class NamespaceCluster {
  readonly id = randomBytes(3).toString("hex");
  readonly subnet: string;
  readonly tmpDir: string;
  readonly switchNs: string;
  private readonly namespaces: string[] = [];
  /** Empty mount points made on the machine's root filesystem, removed at teardown. */
  private readonly created: string[] = [];
  private readonly groups = new Set<number>();
  private nextNode = 2;
  private nextPod = 32;
  private nextVip = 200;
  private destroyed = false;
  private readonly unregister: () => void;

  constructor(private readonly keepDirs = false) {
    sweepStale();
    this.subnet = `10.214.${1 + (parseInt(this.id, 16) % 254)}`;
    // Not under /tmp: containers mount emptyDirs over /tmp (and /dev/shm), which would hide the volumes'
    // sources from the mount script that binds them.
    mkdirSync(WORK_ROOT, { recursive: true });
    this.tmpDir = mkdtempSync(join(WORK_ROOT, `${this.id}-`));
    this.switchNs = `${LIVE_PREFIX}${this.id}-sw`;
    this.record();
    this.unregister = registerCleanup(() => this.destroy());
    this.addNs(this.switchNs);
    ip("-n", this.switchNs, "link", "add", "br0", "type", "bridge");
    ip("-n", this.switchNs, "link", "set", "br0", "up");
  }

  private record(): void {
    mkdirSync(OWNERS, { recursive: true });
    writeFileSync(join(OWNERS, `${this.id}.json`), JSON.stringify({ pid: process.pid, tmpDir: this.keepDirs ? undefined : this.tmpDir, created: this.created, namespaces: this.namespaces }));
  }

  private addNs(ns: string): void {
    ip("netns", "add", ns);
    this.namespaces.push(ns);
    this.record();
  }

  private attach(ns: string, port: string, addr: string): void {
    ip("-n", this.switchNs, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ip("-n", this.switchNs, "link", "set", port, "master", "br0", "up");
    ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
    ip("-n", ns, "link", "set", "eth0", "up");
    ip("-n", ns, "link", "set", "lo", "up");
    // No nameserver: names come from the hosts file; a name not there fails at once instead of asking
    // the machine's resolver (kube-dns is not emulated, README).
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    writeFileSync(`/etc/netns/${ns}/hosts`, "127.0.0.1 localhost\n");
  }

  addNode(index: number): Endpoint {
    if (this.nextNode > 31) throw new Error("more than 30 nodes");
    const e = { ns: `${LIVE_PREFIX}${this.id}-n${index}`, ip: `${this.subnet}.${this.nextNode++}`, port: `n${index}` };
    this.addNs(e.ns);
    this.attach(e.ns, e.port, e.ip);
    return e;
  }

  addPod(): Endpoint {
    if (this.nextPod > 199) throw new Error("more than 168 pods");
    const i = this.nextPod++;
    const e = { ns: `${LIVE_PREFIX}${this.id}-p${i}`, ip: `${this.subnet}.${i}`, port: `p${i}` };
    this.addNs(e.ns);
    this.attach(e.ns, e.port, e.ip);
    return e;
  }

  /** A pod gone for good (a failed Job pod): its namespace and processes go. */
  removePod(e: Endpoint): void {
    teardownNamespaces([e.ns], []);
  }

  allocateVip(): string {
    if (this.nextVip > 254) throw new Error("more than 55 ClusterIP Services");
    return `${this.subnet}.${this.nextVip++}`;
  }

  /** Makes an empty directory (or file) on the root filesystem as a mount point; removed at teardown.
   *  One another live check made is shared: the last check out removes it. */
  ensureMountPoint(path: string, file: boolean): void {
    try {
      statSync(path);
      if (!this.created.includes(path) && mountPointsOfOtherChecks().has(path)) (this.created.push(path), this.record());
      return;
    } catch {
      /* missing: make it */
    }
    if (file) writeFileSync(path, "");
    else mkdirSync(path);
    this.created.push(path);
    this.record();
  }

  /** Whether a path is a mount point this check (or another live one) made: to the containers it is still
   *  "missing", so they cover it with a private tmpfs instead of writing into it. */
  madeHere(path: string): boolean {
    return this.created.includes(path) || mountPointsOfOtherChecks().has(path);
  }

  trackGroup(pid: number): void {
    this.groups.add(pid);
  }

  /** Runs `nft -f -` with `script` in a namespace (nsenter: cheaper than ip netns exec, same netns). */
  nft(ns: string, script: string): void {
    const r = spawnSync("nsenter", [`--net=/run/netns/${ns}`, "nft", "-f", "-"], { input: script, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nft in ${ns} failed: ${r.stderr.trim()}\n--- script ---\n${script}`);
  }

  nftJson(ns: string, ...args: string[]): string {
    const r = spawnSync("nsenter", [`--net=/run/netns/${ns}`, "nft", "-j", ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nft -j ${args.join(" ")} in ${ns} failed: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** Tears everything down. `keepLogs` (a failed check): the pods' logs stay, their volumes and claims go. */
  destroy(keepLogs = false): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.unregister();
    for (const g of this.groups) killGroup(g);
    teardownNamespaces([...this.namespaces].reverse(), [...this.groups]);
    const shared = mountPointsOfOtherChecks();
    removeCreated(this.created.filter((p) => !shared.has(p)));
    if (!this.keepDirs && keepLogs) keepOnlyLogs(this.tmpDir);
    else if (!this.keepDirs) rmSync(this.tmpDir, { recursive: true, force: true });
    rmSync(join(OWNERS, `${this.id}.json`), { force: true });
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

function teardownNamespaces(namespaces: string[], groups: number[]): void {
  for (const g of groups) killGroup(g);
  for (const ns of namespaces) {
    for (let i = 0; i < 50; i++) {
      const left = netnsPids(ns);
      if (left.length === 0) break;
      for (const pid of left) killGroup(pid);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  for (const ns of namespaces) {
    ipQuiet("netns", "del", ns);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
}

/** Mount points that live checks other than this process made (their owner records). Removing one of
 *  those would detach it under that check's running containers. */
function mountPointsOfOtherChecks(): Set<string> {
  const out = new Set<string>();
  let records: string[] = [];
  try {
    records = readdirSync(OWNERS).filter((f) => f.endsWith(".json"));
  } catch {
    return out;
  }
  for (const f of records) {
    try {
      const owner = JSON.parse(readFileSync(join(OWNERS, f), "utf8")) as { pid: number; created?: string[] };
      if (owner.pid !== process.pid && pidAlive(owner.pid)) for (const p of owner.created ?? []) out.add(p);
    } catch {
      /* being written or gone */
    }
  }
  return out;
}

/** Everything of a check's directory but `pods/<pod>/logs` (secrets and claims do not outlive the check). */
function keepOnlyLogs(dir: string): void {
  for (const e of readdirSync(dir)) if (e !== "pods") rmSync(join(dir, e), { recursive: true, force: true });
  if (!existsSync(join(dir, "pods"))) return;
  for (const pod of readdirSync(join(dir, "pods"))) {
    for (const e of readdirSync(join(dir, "pods", pod))) if (e !== "logs") rmSync(join(dir, "pods", pod, e), { recursive: true, force: true });
  }
}

/** Removes the mount points this check made, deepest first, only while still empty. */
function removeCreated(paths: string[]): void {
  for (const p of [...paths].sort((a, b) => b.length - a.length)) {
    try {
      const st = statSync(p);
      if (st.isDirectory()) rmdirSync(p);
      else if (st.size === 0) unlinkSync(p);
    } catch {
      /* gone, or not empty: leave it */
    }
  }
}

/** Leftovers of a crashed check (namespaces with this prefix whose owner process is gone). */
export function sweepStale(): string[] {
  const swept: string[] = [];
  for (const { id, namespaces, owner } of orphanedClusters<{ pid: number; tmpDir?: string; created?: string[] }>(NS_RE, OWNERS)) {
    teardownNamespaces(namespaces, []);
    const shared = mountPointsOfOtherChecks();
    removeCreated((owner?.created ?? []).filter((p) => !shared.has(p)));
    if (owner?.tmpDir) rmSync(owner.tmpDir, { recursive: true, force: true });
    rmSync(join(OWNERS, `${id}.json`), { force: true });
    swept.push(...namespaces);
  }
  if (swept.length) process.stderr.write(`[k8s-live] swept leftovers of a crashed check: ${swept.join(", ")}\n`);
  return swept;
}
