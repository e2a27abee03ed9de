// An experiment's compact record for committing beside the doc that quotes it: the experiment's own outputs
// (table, aggregate, results, charts) and, per run, summary.json and the gzipped metrics.jsonl. The run
// directories themselves (checkpoints, models, NATS data) stay out: they are large and reproducible.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { RunRecord } from "./aggregate.js";

const EXPERIMENT_FILES = ["experiment.yaml", "table.md", "aggregate.json", "results.jsonl", "accuracy.svg", "curves.svg"];

/** Copies the experiment's outputs and each finished run's summary and metrics into `archive`. */
export function archiveExperiment(experimentDir: string, archive: string, records: readonly RunRecord[]): void {
  mkdirSync(archive, { recursive: true });
  for (const f of EXPERIMENT_FILES) if (existsSync(join(experimentDir, f))) copyFileSync(join(experimentDir, f), join(archive, f));
  for (const r of records) {
    const to = join(archive, "runs", r.id);
    mkdirSync(to, { recursive: true });
    copyFileSync(join(r.dir, "summary.json"), join(to, "summary.json"));
    // mtime 0 in the gzip header: the same log archives to the same bytes.
    writeFileSync(join(to, "metrics.jsonl.gz"), gzipSync(readFileSync(join(r.dir, "metrics.jsonl")), { level: 9 }));
  }
}
