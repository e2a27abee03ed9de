// Reading a run's JSON-lines logs (metrics.jsonl, sampler.jsonl). A line cut short by a crash is skipped:
// the logs are appended by live processes, and a report must still come out of a killed run.
import { existsSync, readFileSync } from "node:fs";

export function readJsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return [];
      }
    });
}
