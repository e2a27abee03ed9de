// Real service processes for the benchmarks: `lspo serve <kind>` started directly with LSPO_ACTOR_CONFIG, as
// the node agent starts them (and as test/e2e/learner-resume.int.test.ts starts the learner), each logging
// to its own file. `ready` resolves when the service logs that it is ready (its consume loop is set up);
// `cpuSeconds()` reads the process's user + system CPU time from /proc, so a bench can report CPU beside
// wall clock on this shared machine.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import type { RunConfig } from "@lspo/config";

const root = resolve(import.meta.dirname, "../..");
const tsx = createRequire(import.meta.url).resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The line each service logs once it serves and consumes (services/<kind>/src/main.ts). */
const READY: Record<string, string> = {
  rollout: "rollout actor ready",
  verifier: "verifier ready",
  sampler: "sampler ready",
  learner: "learner ready",
};

export interface Service {
  name: string;
  child: ChildProcess;
  logPath: string;
  ready: Promise<void>;
  /** User + system CPU seconds of the process so far (from /proc/<pid>/stat); NaN once it has exited. */
  cpuSeconds(): number;
  /** SIGTERM (the service drains), then waits for the exit. */
  stop(): Promise<void>;
}

// Whatever is still running when the bench process exits (a failed bench included) is killed with it.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

export function exited(p: ChildProcess): Promise<void> {
  return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once("exit", () => r())));
}

export interface StartOptions {
  name: string;
  logDir: string;
  threads?: number;
  readyTimeoutMs?: number;
}

/**
 * Resolves when the service's log says it is ready; rejects, with the log's tail, when it exits first or
 * stays silent past the timeout. Used for services started here and on the hosts of a cluster.
 */
export function waitUntilReady(kind: string, logPath: string, hasExited: () => boolean, name: string, timeoutMs = 120_000): Promise<void> {
  const marker = READY[kind];
  if (!marker) throw new Error(`waitUntilReady: unknown service kind '${kind}'. Valid: ${Object.keys(READY).join(", ")}`);
  return new Promise<void>((res, rej) => {
    const deadline = Date.now() + timeoutMs;
    const read = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
    const tail = () => read().trimEnd().split("\n").slice(-5).join("\n");
    const poll = setInterval(() => {
      if (read().includes(`"msg":"${marker}"`)) {
        clearInterval(poll);
        res();
      } else if (hasExited()) {
        clearInterval(poll);
        rej(new Error(`${name} exited before it was ready; its log ${logPath}:\n${tail()}`));
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        rej(new Error(`${name} was not ready within ${timeoutMs} ms; its log ${logPath}:\n${tail()}`));
      }
    }, 100);
  });
}

/** The argv that runs the lspo CLI from source (`lspo serve <kind>` and friends). */
export function cliArgs(...args: string[]): string[] {
  return ["--conditions=source", "--import", tsx, cli, ...args];
}

export function startService(kind: keyof typeof READY & string, config: RunConfig, o: StartOptions): Service {
  if (!READY[kind]) throw new Error(`startService: unknown service kind '${kind}'. Valid: ${Object.keys(READY).join(", ")}`);
  const logPath = join(o.logDir, `${o.name}.log`);
  const fd = openSync(logPath, "a");
  const child = spawn(process.execPath, cliArgs("serve", kind), {
    env: { ...process.env, LSPO_ACTOR_CONFIG: JSON.stringify(config), LSPO_ACTOR_NAME: o.name, LSPO_THREADS: String(o.threads ?? 1) },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  live.add(child);
  child.once("exit", () => live.delete(child));
  const ready = waitUntilReady(kind, logPath, () => child.exitCode !== null || child.signalCode !== null, o.name, o.readyTimeoutMs);
  return {
    name: o.name,
    child,
    logPath,
    ready,
    cpuSeconds: () => (child.pid ? cpuSecondsOf(child.pid) : Number.NaN),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited(child);
    },
  };
}
