#!/usr/bin/env node
// `npm test`: the whole suite, in the order a reviewer would check it. Each stage names itself; the run
// ends with vitest's `N passed, N failed, N skipped` line (test/support/summary-reporter.ts).
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules/.bin", name);

const stages = [
  ["buf lint (proto/ contracts)", bin("buf"), ["lint"]],
  ["codegen drift (libs/proto matches proto/)", process.execPath, [join(root, "scripts/proto-gen.mjs"), "--check"]],
  ["tsc -b (strict type check of every package)", bin("tsc"), ["-b"]],
  ["vitest (unit, integration, end to end)", bin("vitest"), ["run", ...process.argv.slice(2)]],
];

for (const [title, cmd, args] of stages) {
  process.stderr.write(`\n== ${title}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`\n== FAILED: ${title} (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status || 1);
  }
  process.stderr.write(`== ok: ${title} (${((Date.now() - t0) / 1000).toFixed(1)}s)\n`);
}
