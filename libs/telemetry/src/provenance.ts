// Where a measurement came from, recorded by every benchmark, experiment and the demo beside its numbers:
// the commit, whether the tree was clean for the whole measurement, the command line, the machine, its load
// and the time. A result from a dirty tree (or one whose tree changed while it ran) is labelled
// "uncommitted", never "at commit X": "measured at X" must mean that a clean checkout of X reproduces it.
import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, hostname, loadavg, totalmem } from "node:os";

export interface Provenance {
  /** "at commit <sha>" (clean tree from start to finish) or "uncommitted (based on <sha>)". */
  label: string;
  commit: string | null;
  /** True when `git status --porcelain` was empty at the start and at the end, on the same commit. */
  clean: boolean;
  /** What was dirty at the start or the end (paths from git status), capped. */
  dirty: string[];
  command: string[];
  cwd: string;
  machine: { hostname: string; cpus: number; cpuModel: string; memoryGiB: number; platform: string; node: string };
  loadAverage: { start: number[]; end: number[] | null };
  startedAt: string;
  finishedAt: string | null;
}

interface TreeState {
  commit: string | null;
  dirty: string[];
}

function git(args: string[], cwd: string): string | null {
  try {
    // trimEnd only: porcelain lines start with a status column that may be a space.
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trimEnd();
  } catch {
    return null; // not a checkout (an installed image): the label says so
  }
}

function treeState(cwd: string): TreeState {
  const commit = git(["rev-parse", "HEAD"], cwd);
  // -uall: each untracked file by name (not its folder), so `ignore` can match a result file inside a new folder.
  const status = git(["status", "--porcelain", "-uall"], cwd);
  return { commit, dirty: status ? status.split("\n").filter(Boolean).map((l) => l.slice(3)) : [] };
}

/** Label for a measurement that began in `start` and ended in `end`. */
export function provenanceLabel(start: TreeState, end: TreeState): { label: string; clean: boolean } {
  if (!start.commit) return { label: "uncommitted (not a git checkout)", clean: false };
  const clean = start.dirty.length === 0 && end.dirty.length === 0 && start.commit === end.commit;
  return { label: clean ? `at commit ${start.commit.slice(0, 7)}` : `uncommitted (based on ${start.commit.slice(0, 7)})`, clean };
}

/** Provenance recorded at the start of a measurement; `finish()` checks the tree again and stamps the end. */
export function startProvenance(opts: { cwd?: string; command?: string[]; ignore?: RegExp } = {}) {
  const cwd = opts.cwd ?? process.cwd();
  // A measurement may write its own result file inside the tree: that write must not make it "uncommitted".
  const keep = (s: TreeState): TreeState => ({ ...s, dirty: s.dirty.filter((p) => !opts.ignore?.test(p)) });
  const start = keep(treeState(cwd));
  const cpu = cpus()[0];
  const base = {
    command: opts.command ?? process.argv.slice(1),
    cwd,
    machine: {
      hostname: hostname(),
      cpus: availableParallelism(),
      cpuModel: cpu?.model ?? "unknown",
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      platform: `${process.platform}/${process.arch}`,
      node: process.version,
    },
    startedAt: new Date().toISOString(),
    loadStart: loadavg(),
  };
  return {
    /** The record to write beside the numbers. */
    finish(): Provenance {
      const end = keep(treeState(cwd));
      const { label, clean } = provenanceLabel(start, end);
      return {
        label,
        commit: start.commit,
        clean,
        dirty: [...new Set([...start.dirty, ...end.dirty])].slice(0, 20),
        command: base.command,
        cwd: base.cwd,
        machine: base.machine,
        loadAverage: { start: base.loadStart, end: loadavg() },
        startedAt: base.startedAt,
        finishedAt: new Date().toISOString(),
      };
    },
  };
}
