#!/usr/bin/env node
// Runs the lspo CLI from TypeScript source (tsx) with the `source` export condition, so a fresh clone
// needs no build step. The `lspo` bin of @lspo/controller points here too.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import os from "node:os";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, "package.json"));
const tsx = require.resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, cli, ...process.argv.slice(2)], {
  stdio: "inherit",
});
// Forward termination so the CLI drains (a Kubernetes SIGTERM, a Ctrl-C) instead of dying with us.
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => child.kill(sig));
// A child killed by a signal is reported as killed by that signal (not as a bare exit 1, which read as a
// command failure with nothing on stderr): our handlers step aside and the signal is raised on ourselves.
child.on("exit", (code, signal) => {
  if (code !== null || signal === null) process.exit(code ?? 0);
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.removeAllListeners(sig);
  process.kill(process.pid, signal);
  // Signals whose default action is not to end a process (none we expect) fall back to the shell's convention.
  setTimeout(() => process.exit(128 + (os.constants.signals[signal] ?? 0)), 1000).unref();
});
