// The run's `metrics.jsonl`: one JSON object per line, appended and flushed per record so a killed process
// loses at most the line being written. bigint values are written as numbers (steps and versions fit).
import { appendFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { dirname } from "node:path";

export interface MetricRecord {
  /** What happened: "update", "eval", "swap", "rollout", ... */
  event: string;
  step?: number;
  time?: string;
  [field: string]: unknown;
}

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? Number(v) : v);

export class MetricsFile {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(record: MetricRecord): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...record }, replacer);
    appendFileSync(this.path, line + "\n");
  }

  /** Every complete record (a torn last line from a crash is skipped). */
  read(): MetricRecord[] {
    if (!existsSync(this.path)) return [];
    const out: MetricRecord[] = [];
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as MetricRecord);
      } catch {
        // torn write
      }
    }
    return out;
  }
}
