#!/usr/bin/env node
// `npm run bench [-- <name> ...]`: runs bench/<name>.ts (all of them when no name is given) from source with tsx.
// Each benchmark writes bench/results/<name>.json; docs/BENCHMARKS.md quotes those files.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, "package.json"));
const tsx = require.resolve("tsx");
const available = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`bench: unknown benchmark '${n}'. Available: ${available.join(", ") || "(none yet)"}`);
    process.exit(2);
  }
}
let failed = 0;
for (const name of names.length ? names : available) {
  console.log(`\n== bench ${name}`);
  const r = spawnSync(process.execPath, ["--conditions=source", "--import", tsx, join(root, "bench", `${name}.ts`)], {
    cwd: root,
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
