#!/usr/bin/env node
// Runs the lspo CLI from TypeScript source (tsx) with the `source` export condition, so a fresh clone
// needs no build step. The `lspo` bin of @lspo/controller points here too.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, "package.json"));
const tsx = require.resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, cli, ...process.argv.slice(2)], {
  stdio: "inherit",
});
// Forward termination so the CLI drains (a Kubernetes SIGTERM, a Ctrl-C) instead of dying with us.
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => child.kill(sig));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
