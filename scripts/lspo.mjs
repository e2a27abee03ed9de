#!/usr/bin/env node
// Runs the lspo CLI from TypeScript source (tsx) with the `source` export condition, so a fresh clone
// needs no build step. The `lspo` bin of @lspo/controller points here too.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, "package.json"));
const tsx = require.resolve("tsx");
const cli = join(root, "services/controller/src/cli.ts");
const r = spawnSync(process.execPath, ["--conditions=source", "--import", tsx, cli, ...process.argv.slice(2)], {
  stdio: "inherit",
});
process.exit(r.status ?? (r.signal ? 1 : 0));
