// `npm run test:chaos:record -- <dir>`: one `npm run test:chaos` (the long form), recorded for the docs:
// its whole output as <dir>/test-chaos.log.gz, and <dir>/test-chaos.json with the provenance (commit, clean
// tree, machine, load), the vitest counts, each test's name, result and time, and every scenario's JSON
// line (the counts docs/RELIABILITY.md quotes). Exits with the suite's exit code.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { startProvenance } from "@lspo/telemetry";

const root = resolve(import.meta.dirname, "../..");
const out = resolve(process.argv[2] ?? "");
if (!process.argv[2]) {
  console.error("usage: npm run test:chaos:record -- <output dir>");
  process.exit(2);
}
const rel = relative(root, out);
const escape = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
// The record's own files may land inside the checkout: they do not make the tree "dirty", and neither do the
// other records of its series (`run-<n>` beside it): the runs are recorded one after another, each one
// changing the files the next one sees (before, every run after the first of a series said "uncommitted").
const recorded = /^run-\d+$/.test(basename(out)) ? dirname(rel) : rel;
const provenance = startProvenance({ cwd: root, command: ["npm", "run", "test:chaos"], ignore: rel.startsWith("..") ? undefined : new RegExp(`^${escape(recorded)}/`) });
const t0 = Date.now();

const child = spawn("npm", ["run", "test:chaos"], { cwd: root, env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
const chunks: Buffer[] = [];
for (const stream of [child.stdout!, child.stderr!]) {
  stream.on("data", (d: Buffer) => {
    chunks.push(d);
    process.stdout.write(d);
  });
}
const code: number = await new Promise((r) => child.once("exit", (c) => r(c ?? 1)));
const log = Buffer.concat(chunks).toString("utf8");
const lines = log.split("\n");

// Each scenario prints one JSON line starting {"scenario":.
const scenarios = lines.filter((l) => l.startsWith('{"scenario":')).map((l) => JSON.parse(l));
// vitest's per-test lines (default reporter, no colour): "✓ name 1234ms" / "× name 1234ms".
const tests = lines
  .map((l) => /^\s+([✓×↓])\s+(.*?)(?:\s+(\d+)ms)?$/.exec(l))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ name: m[2], result: m[1] === "✓" ? "passed" : m[1] === "×" ? "failed" : "skipped", ms: m[3] ? Number(m[3]) : null }));
const totals = /(\d+) passed, (\d+) failed, (\d+) skipped/.exec(lines.filter((l) => /passed, \d+ failed/.test(l)).pop() ?? "");

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "test-chaos.log.gz"), gzipSync(log, { level: 9 }));
writeFileSync(
  join(out, "test-chaos.json"),
  JSON.stringify(
    {
      provenance: provenance.finish(),
      command: "npm run test:chaos",
      exitCode: code,
      wallSeconds: Math.round((Date.now() - t0) / 100) / 10,
      passed: totals ? Number(totals[1]) : null,
      failed: totals ? Number(totals[2]) : null,
      skipped: totals ? Number(totals[3]) : null,
      tests,
      scenarios,
    },
    null,
    1,
  ) + "\n",
);
console.error(`test:chaos:record: exit ${code}; ${join(out, "test-chaos.json")}`);
process.exit(code);
