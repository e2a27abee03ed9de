// `npm run test:chaos:series -- <dir>`: the runs `npm run test:chaos:record -- <dir>/run-N` wrote, summed up
// in <dir>/series.json for docs/RELIABILITY.md ("Five runs in a row"): per run its provenance, verdict,
// counts, failing tests and the kill scenario's lost/duplicates; overall how many passed and how many in a
// row from the first (the issue asks for consecutive clean runs, not a pass rate). The doc renders its
// figures from this file (test/docs/views/chaos.ts), so a new series needs no hand-copied number.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The part of a test-chaos.json (test/chaos/record.ts) the series reads. */
interface Recorded {
  provenance: { label: string; commit: string | null; clean: boolean };
  exitCode: number;
  wallSeconds: number;
  passed: number | null;
  failed: number | null;
  skipped: number | null;
  tests: { name: string; result: "passed" | "failed" | "skipped" }[];
  scenarios: { scenario: string; run?: number; summary?: { lost: number; duplicates: number } }[];
}

const dir = resolve(process.argv[2] ?? "");
if (!process.argv[2]) {
  console.error("usage: npm run test:chaos:series -- <dir holding run-*/test-chaos.json>");
  process.exit(2);
}

// run-2 before run-10: the order the runs were made in, which "in a row" depends on.
const runDirs = readdirSync(dir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && /^run-\d+$/.test(e.name))
  .map((e) => e.name)
  .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
if (!runDirs.length) {
  console.error(`test:chaos:series: no run-N/ directories in ${dir}`);
  process.exit(1);
}

const records = runDirs.map((name) => {
  const r = JSON.parse(readFileSync(join(dir, name, "test-chaos.json"), "utf8")) as Recorded;
  const withCounts = r.scenarios.filter((s) => s.summary);
  // "kill 3", not "kill": the kill scenario prints one line per run.
  const named = (s: Recorded["scenarios"][number]) => (s.run === undefined ? s.scenario : `${s.scenario} ${s.run}`);
  return {
    dir: name,
    label: r.provenance.label,
    commit: r.provenance.commit,
    clean: r.provenance.clean,
    exitCode: r.exitCode,
    // The suite's own verdict: record.ts exits with vitest's exit code.
    passedRun: r.exitCode === 0,
    wallSeconds: r.wallSeconds,
    passed: r.passed,
    failed: r.failed,
    skipped: r.skipped,
    failedTests: r.tests.filter((t) => t.result === "failed").map((t) => t.name),
    kill: withCounts.filter((s) => s.scenario === "kill").map((s) => ({ run: s.run ?? null, lost: s.summary!.lost, duplicates: s.summary!.duplicates })),
    // Every scenario ends with lost = 0 and duplicates = 0 or fails: the ones that did not, by name.
    scenarios: withCounts.length,
    unaccounted: withCounts.filter((s) => s.summary!.lost !== 0 || s.summary!.duplicates !== 0).map((s) => ({ scenario: named(s), lost: s.summary!.lost, duplicates: s.summary!.duplicates })),
  };
});

const firstFailure = records.findIndex((r) => !r.passedRun);
const commits = [...new Set(records.map((r) => r.commit))];
const labels = [...new Set(records.map((r) => r.label))];
// One label for the series only when every run has it: the docs checker then requires the doc to say it,
// and lets "at commit X" stand only when it records a clean tree. Runs of different trees get a label
// that claims no commit (no "at <sha>"), and the doc says so.
const label =
  labels.length === 1
    ? labels[0]
    : `mixed commits (${[...new Set(records.map((r) => `${r.commit?.slice(0, 7) ?? "no commit"}${r.clean ? "" : " uncommitted"}`))].join(", ")})`;

const series = {
  provenance: { label, commit: commits.length === 1 ? commits[0] : null, clean: records.every((r) => r.clean) },
  command: "npm run test:chaos",
  runs: records.length,
  passedRuns: records.filter((r) => r.passedRun).length,
  consecutivePassedFromFirst: firstFailure === -1 ? records.length : firstFailure,
  commits,
  records,
};
writeFileSync(join(dir, "series.json"), JSON.stringify(series, null, 1) + "\n");
console.error(`test:chaos:series: ${series.passedRuns} of ${series.runs} runs passed (${series.consecutivePassedFromFirst} in a row from the first), ${label}; ${join(dir, "series.json")}`);
