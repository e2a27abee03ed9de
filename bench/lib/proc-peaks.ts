// Peak memory of a process tree, by role, read from /proc while it runs: every POLL_MS the descendants of a
// root pid are listed, each one's VmHWM (its own peak RSS, monotonic) kept at the last value read, and the
// sum of their VmRSS (what the tree holds at that moment: its peak is the machine's share). Roles come from
// the command line: `lspo serve <kind>` is an actor (learner, rollout, sampler, verifier), nats-server the
// embedded server, the root the controller. A process restarted under a role is another pid of that role.
import { readFileSync, readdirSync } from "node:fs";

const POLL_MS = 200;

export interface RolePeak {
  /** The largest VmHWM over the role's processes, bytes. */
  peakBytes: number;
  pids: number[];
  /** LSPO_THREADS in the process's environment (an actor's onnxruntime intra-op threads, set by its agent). */
  threads: number | null;
}

export interface TreePeaks {
  roles: Record<string, RolePeak>;
  /** The largest sum of VmRSS over the tree at one poll, bytes. */
  treePeakBytes: number;
  polls: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null; // the process is gone
  }
}

/** The role of a process from its command line (NUL-separated argv). */
export function roleOf(cmdline: string, isRoot: boolean): string {
  const argv = cmdline.split("\0").filter(Boolean);
  const serve = argv.indexOf("serve");
  if (serve >= 0 && argv[serve + 1]) return argv[serve + 1];
  if (argv[0]?.endsWith("nats-server")) return "nats-server";
  if (isRoot) return "controller";
  return argv.slice(0, 2).map((a) => a.split("/").pop()).join(" ") || "unknown";
}

const kib = (status: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;

export class TreeWatcher {
  private readonly peaks = new Map<number, { role: string; hwm: number; threads: number | null }>();
  private treePeak = 0;
  private polls = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly rootPid: number) {
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.poll();
  }

  private poll(): void {
    const parent = new Map<number, number>();
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      const stat = read(`/proc/${d}/stat`);
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
      if (stat) parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    }
    const inTree = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 64; p = parent.get(p) ?? 0, hops++) if (p === this.rootPid) return true;
      return false;
    };
    let rss = 0;
    for (const pid of parent.keys()) {
      if (!inTree(pid)) continue;
      const status = read(`/proc/${pid}/status`);
      if (!status) continue;
      let known = this.peaks.get(pid);
      if (!known) {
        known = { role: "", hwm: 0, threads: null };
        this.peaks.set(pid, known);
      }
      // Read each time: a process caught between fork and exec still shows its parent's command line.
      const cmdline = read(`/proc/${pid}/cmdline`);
      if (cmdline) known.role = roleOf(cmdline, pid === this.rootPid);
      const env = read(`/proc/${pid}/environ`)?.split("\0").find((e) => e.startsWith("LSPO_THREADS="));
      known.threads = env ? Number(env.slice("LSPO_THREADS=".length)) : null;
      known.hwm = Math.max(known.hwm, kib(status, "VmHWM"));
      rss += kib(status, "VmRSS");
    }
    this.treePeak = Math.max(this.treePeak, rss);
    this.polls++;
  }

  /** Stops polling; the peaks by role. */
  stop(): TreePeaks {
    clearInterval(this.timer);
    const roles: Record<string, RolePeak> = {};
    for (const [pid, { role, hwm, threads }] of this.peaks) {
      const r = (roles[role] ??= { peakBytes: 0, pids: [], threads });
      r.peakBytes = Math.max(r.peakBytes, hwm);
      r.pids.push(pid);
    }
    return { roles, treePeakBytes: this.treePeak, polls: this.polls };
  }
}
