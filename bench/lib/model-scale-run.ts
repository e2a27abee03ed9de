// One `lspo train` process of bench/model-scale.ts's training part, watched from outside while it runs: the
// peak RSS of each of its processes by role (proc-peaks.ts: the learner and the rollout actor are the
// controller's grandchildren, under its node agent) and the rollout actor's generation counters
// (rollout-counters.ts); afterwards what the run recorded in its directory (metrics.jsonl's updates,
// evaluations and checkpoint manifests, summary.json). A run that exits non-zero, or outlives its time,
// throws with the end of its output and the place of its logs.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { TreeWatcher, type TreePeaks } from "./proc-peaks.js";
import { RolloutCounterPoller, type RolloutCounters } from "./rollout-counters.js";
import { root, shown, tsx } from "./cli-step.js";

export type Rec = Record<string, unknown>;

export interface WatchedRun {
  label: string;
  command: string;
  seconds: number;
  peaks: TreePeaks;
  rollout: Record<string, RolloutCounters>;
  /** The rollout counters' readings whose group count moved (rollout-counters.ts). */
  rolloutHistory: RolloutCounterPoller["history"];
  /** The last line `lspo train` prints (its JSON summary). */
  printed: Rec | null;
  summary: Rec;
  /** metrics.jsonl's records of this run (those after `since` records of an earlier run in the same dir). */
  records: Rec[];
  checkpoints: Array<{ dir: string; bytes: number }>;
}

const dirBytes = (d: string): number =>
  readdirSync(d, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? dirBytes(join(d, e.name)) : statSync(join(d, e.name)).size), 0);

const readJsonl = (path: string): Rec[] =>
  existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Rec) : [];

export async function watchedTrain(label: string, args: string[], runDir: string, logDir: string, timeoutS: number): Promise<WatchedRun> {
  const since = readJsonl(join(runDir, "metrics.jsonl")).length;
  const out = join(logDir, `${label.replace(/[^a-z0-9]+/gi, "-")}.out`);
  const fd = openSync(out, "w");
  const t0 = performance.now();
  const startedMs = Date.now();
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, ...args], { cwd: root, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const watcher = new TreeWatcher(child.pid!);
  const counters = new RolloutCounterPoller(runDir, startedMs);
  let timer: NodeJS.Timeout | undefined;
  const code = await new Promise<number | string>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 30_000).unref();
    }, timeoutS * 1000);
    child.once("exit", (c, sig) => resolve(c ?? sig ?? "unknown"));
  });
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const peaks = watcher.stop();
  const rollout = await counters.stop();
  const rolloutHistory = counters.history;
  const tail = readFileSync(out, "utf8").trimEnd().split("\n");
  if (code !== 0) {
    throw new Error(`${label} (${shown(args)}) exited ${code} after ${seconds.toFixed(0)} s${seconds >= timeoutS ? ` (killed at the bench's ${timeoutS} s limit)` : ""}; ` +
      `its output: ${out}, the actors' logs: ${join(runDir, "logs")}\n${tail.slice(-15).join("\n")}`);
  }
  let printed: Rec | null = null;
  try {
    printed = JSON.parse(tail.filter((l) => l.startsWith("{\"dir\"")).pop() ?? "null") as Rec | null;
  } catch {
    /* not printed */
  }
  const ckptRoot = join(runDir, "checkpoints");
  const checkpoints = existsSync(ckptRoot) ? readdirSync(ckptRoot).sort().map((d) => ({ dir: d, bytes: dirBytes(join(ckptRoot, d)) })) : [];
  return {
    label, command: shown(args), seconds, peaks, rollout, rolloutHistory, printed,
    summary: JSON.parse(readFileSync(join(runDir, "summary.json"), "utf8")) as Rec,
    records: readJsonl(join(runDir, "metrics.jsonl")).slice(since),
    checkpoints,
  };
}
