// `lspo experiment -c configs/lspo-vs-base.yaml`: base algorithm vs base + LSPO, for each algorithm and
// seed of the experiment file, one full `lspo train` run after another (the machine's cores go to one run
// at a time, so wall times compare). Writes into the experiment directory: runs/<id>/ (each run's own
// directory), results.jsonl (one record per run), table.md, aggregate.json, accuracy.svg, curves.svg and
// report.html; with --archive, a compact copy to commit (experiment/archive.ts). Rerun with --out <dir>
// to finish an interrupted experiment: runs with a summary.json are read, not repeated.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { startProvenance, type Provenance } from "@lspo/telemetry";
import { aggregate, markdownTables, recordOf, type RunRecord } from "../experiment/aggregate.js";
import { archiveExperiment } from "../experiment/archive.js";
import { accuracyBars, accuracyCurves } from "../experiment/charts.js";
import { loadExperiment, planRuns, type Experiment, type PlannedRun } from "../experiment/config.js";
import { readSummary, train } from "../run/controller.js";

export const summary = "base algorithm vs base + LSPO over algorithms and seeds: experiment -c <experiment.yaml> [--out <dir>] [--archive <dir>] [key=value ...]";

const USAGE = `usage: lspo experiment -c <experiment.yaml> [--out <dir>] [--archive <dir>] [--dry-run] [key=value ...]

Runs every (algorithm, variant, seed) of the experiment file as an \`lspo train\` run, one at a time, and
writes table.md (mean ± std over seeds), aggregate.json, results.jsonl and SVG charts into the experiment
directory (default <out>/<name>-<timestamp>). key=value overrides apply to every run's config.
  --out <dir>      experiment directory; runs already finished there (summary.json) are reused
  --archive <dir>  also copy the outputs, each run's summary.json and gzipped metrics.jsonl there (to commit)
  --dry-run     print the planned runs and exit`;

function writeOutputs(dir: string, e: Experiment, records: RunRecord[], provenance: Provenance): string {
  const variants = Object.keys(e.variants);
  const agg = aggregate(records, e.algorithms, variants);
  const table = `${markdownTables(agg)}\n_${provenance.label}; ${provenance.machine.cpus} cpus; ${provenance.startedAt}_\n`;
  writeFileSync(join(dir, "table.md"), table);
  writeFileSync(join(dir, "aggregate.json"), JSON.stringify({ ...agg, provenance }, null, 1));
  const bars = accuracyBars(agg, records, e.algorithms, variants);
  const curves = accuracyCurves(records, e.algorithms, variants);
  writeFileSync(join(dir, "accuracy.svg"), bars);
  if (curves) writeFileSync(join(dir, "curves.svg"), curves);
  const md = table.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  writeFileSync(
    join(dir, "report.html"),
    `<!doctype html><meta charset="utf-8"><title>lspo experiment ${e.name}</title><style>body{font-family:sans-serif;max-width:1300px;margin:24px}pre{background:#f8fafc;padding:12px}</style>
<h1>lspo experiment <code>${e.name}</code></h1><pre>${md}</pre>${bars}<br>${curves}<p>Runs: <code>${dir}/runs</code>; numbers from results.jsonl.</p>`,
  );
  return table;
}

function describe(r: PlannedRun): string {
  const c = r.config;
  return `${r.id}: ${c.learner.algorithm.name}, lengthFilter=${c.sampler.lengthFilter}, seed ${c.run.seed}, B=${c.sampler.batchSize}, G=${c.rollout.groupSize}, steps<=${c.run.steps}, maxGroups=${c.run.maxGroups || "-"}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      out: { type: "string" },
      archive: { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  const bad = positionals.filter((p) => !p.includes("="));
  if (bad.length) {
    console.error(`lspo experiment: unexpected argument '${bad[0]}' (overrides are key=value)\n\n${USAGE}`);
    return 2;
  }
  if (!values.config) {
    console.error(`lspo experiment: -c <experiment.yaml> is required\n\n${USAGE}`);
    return 2;
  }
  const e = loadExperiment(values.config);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  const dir = resolve(values.out ?? join(e.out, `${e.name}-${stamp}`));
  const runs = planRuns(e, dir, positionals); // validates every run's config before anything starts
  if (values["dry-run"]) {
    console.log([`experiment ${e.name}: ${runs.length} runs into ${dir}`, ...runs.map(describe)].join("\n"));
    return 0;
  }
  // The experiment directory may be inside the checkout (the default out): its own files are not "dirty".
  // So may the archive, which is written at the end.
  const inside = [dir, ...(values.archive ? [resolve(values.archive)] : [])].map((d) => relative(process.cwd(), d)).filter((r) => !r.startsWith(".."));
  const escape = (p: string) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const provenance = startProvenance({ command: ["lspo", "experiment", ...argv], ignore: inside.length ? new RegExp(`^(${inside.map(escape).join("|")})/`) : undefined });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "experiment.yaml"), stringify({ ...e, commandLineOverrides: positionals }));
  const records: RunRecord[] = [];
  const failures: string[] = [];
  const t0 = Date.now();
  writeFileSync(join(dir, "results.jsonl"), "");
  for (const [i, r] of runs.entries()) {
    const done = join(r.config.run.dir, "summary.json");
    process.stderr.write(`experiment: [${i + 1}/${runs.length}] ${describe(r)}${existsSync(done) ? " (finished before: reused)" : ""}\n`);
    try {
      const s = existsSync(done) ? readSummary(r.config.run.dir) : await train(r.config, { quiet: true });
      const rec = recordOf(r, s);
      records.push(rec);
      appendFileSync(join(dir, "results.jsonl"), JSON.stringify(rec) + "\n");
      process.stderr.write(
        `experiment: ${r.id}: held-out ${(100 * rec.accuracyBefore).toFixed(1)}% -> ${(100 * rec.accuracyAfter).toFixed(1)}%, ${rec.steps} steps, ${rec.groups} groups, ${rec.wallSeconds.toFixed(0)} s\n`,
      );
    } catch (err) {
      // One failed run does not void the others: it is reported, and the exit code says so.
      failures.push(`${r.id}: ${(err as Error).message}`);
      process.stderr.write(`experiment: ${r.id} FAILED: ${(err as Error).message}\n`);
    }
    writeOutputs(dir, e, records, provenance.finish());
  }
  const table = writeOutputs(dir, e, records, provenance.finish());
  if (values.archive) archiveExperiment(dir, resolve(values.archive), records);
  console.log(table);
  console.log(`experiment: ${records.length}/${runs.length} runs in ${((Date.now() - t0) / 60000).toFixed(1)} min; ${join(dir, "table.md")}, ${join(dir, "report.html")}`);
  if (failures.length) console.error(`experiment: ${failures.length} run(s) failed:\n${failures.join("\n")}`);
  return failures.length ? 1 : 0;
}
