// The lspo CLI as a child process, its output kept: for tests that signal the process itself (a SIGKILL must
// reach the controller, and scripts/lspo.mjs, a wrapper, cannot forward one).
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { exited } from "./wait.js";

const root = resolve(import.meta.dirname, "../../..");
const cli = ["--conditions=source", "--import", createRequire(import.meta.url).resolve("tsx"), join(root, "services/controller/src/cli.ts")];

export interface CliProcess {
  child: ChildProcess;
  /** Everything it printed on stdout so far. */
  out(): string;
  /** Everything it printed on stderr so far (also passed on to this process's stderr). */
  err(): string;
}

/** Starts CLI processes and, at `stopAll`, SIGTERMs those still running and waits for them. */
export function cliProcesses(): { lspo(args: string[], env?: Record<string, string>): CliProcess; stopAll(): Promise<void> } {
  const children: ChildProcess[] = [];
  return {
    lspo(args, env = {}) {
      let out = "";
      let err = "";
      const child = spawn(process.execPath, [...cli, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr!.on("data", (b: Buffer) => {
        err += b.toString();
        process.stderr.write(b);
      });
      children.push(child);
      return { child, out: () => out, err: () => err };
    },
    async stopAll() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
      await Promise.all(children.map(exited));
    },
  };
}
