#!/usr/bin/env node
// `npm run bench [-- <name> ... | -- <name> --flag value ...]`: runs bench/<name>.ts from source with tsx; with no name, every benchmark
// except those in BY_NAME_ONLY (too long for the default run's 15 minutes, or not a benchmark), which run
// when named. Each benchmark writes bench/results/<name>.json; docs/BENCHMARKS.md quotes those files.
// Prints each benchmark's wall time and the total.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** Run only when named, and why. */
const BY_NAME_ONLY = {
  "pretrain-sweep": "about 10 minutes on its own (quoted in docs/DEMO.md)",
  "rl-probe": "a learning probe driven by key=value arguments, not a benchmark",
  // Its levels run once on this machine and again across 2 and 4 namespace rollout hosts (test/cluster).
  scale: "about 11 minutes with its cross-host levels (root and ip netns; --rollout-hosts 0 for this machine only, about 3)",
  // Each window needs its own service start, and 20,000 groups per trial and path.
  "sampler-service": "about 15 minutes: 5 runs at each of W = 1k, 100k, 1M, each timed trial after an untimed one of its path, with the window filled first",
  // Three engines, each generating 256 tokens per batch and run from a 0.5B-shaped model as well as the 25M one.
  decode: "about 20 minutes: 25M and Qwen2.5-0.5B-shaped models, 3 engines, 256 new tokens per generation, plus 1,024-token runs for the step time (--size tiny: seconds)",
  // Builds a 0.5B-shaped model's weights twice over (fed and prepacked sessions: about 6 GB of memory).
  "gemm-ceiling": "about 2 minutes: the weight products of a decode step, fed and prepacked, at 25M and 0.5B shapes",
  // Writes about 10 GB of model files and moves 6 GB through NATS, then trains a 0.5B model end to end.
  "model-scale": "a Qwen2.5-1.5B-shaped model initialised, loaded, generated from and published, then a 0.5B-shaped one trained end to end with a resume, beside PyTorch (tens of minutes, ~30 GB of disk)",
};

const root = new URL("..", import.meta.url).pathname;
const require = createRequire(join(root, "package.json"));
const tsx = require.resolve("tsx");
const available = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
// Names first, then the benchmark's own flags: `npm run bench -- scale --rollout-hosts 2,4` passes
// `--rollout-hosts 2,4` to bench/scale.ts.
const argv = process.argv.slice(2);
const firstFlag = argv.findIndex((a) => a.startsWith("-"));
const names = firstFlag < 0 ? argv : argv.slice(0, firstFlag);
const flags = firstFlag < 0 ? [] : argv.slice(firstFlag);
if (flags.length && names.length !== 1) {
  console.error(`bench: flags (${flags.join(" ")}) go to one named benchmark: npm run bench -- <name> ${flags.join(" ")}`);
  process.exit(2);
}
for (const n of names) {
  if (!available.includes(n)) {
    console.error(`bench: unknown benchmark '${n}'. Available: ${available.join(", ") || "(none yet)"}`);
    process.exit(2);
  }
}
const chosen = names.length ? names : available.filter((n) => !(n in BY_NAME_ONLY));
let failed = 0;
const started = Date.now();
const took = [];
for (const name of chosen) {
  console.log(`\n== bench ${name}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--conditions=source", "--import", tsx, join(root, "bench", `${name}.ts`), ...flags], {
    cwd: root,
    stdio: "inherit",
  });
  const seconds = (Date.now() - t0) / 1000;
  took.push(`${name} ${seconds.toFixed(0)} s${r.status === 0 ? "" : " (FAILED)"}`);
  if (r.status !== 0) failed++;
}
console.log(`\n== bench: ${took.join(", ")}; total ${((Date.now() - started) / 1000).toFixed(0)} s`);
if (!names.length) {
  const skipped = available.filter((n) => n in BY_NAME_ONLY);
  if (skipped.length) console.log(`not run by default (name them to run): ${skipped.map((n) => `${n}: ${BY_NAME_ONLY[n]}`).join("; ")}`);
}
process.exit(failed ? 1 : 0);
