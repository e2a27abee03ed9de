// The learner's own count of attempts per training batch, on its host (next to its checkpoints). The batch
// consumer is re-created from the checkpoint at every start, so the server's delivery count restarts with
// the process and cannot bound a batch that kills the learner; this file survives the restart.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Attempt {
  n: number;
  /** Set once the batch was given up on (dead-lettered). */
  reason?: string;
}

export class BatchAttempts {
  private readonly path: string;
  private entries: Record<string, Attempt>;

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true });
    this.path = join(stateDir, "learner-attempts.json");
    let loaded: Record<string, Attempt> = {};
    if (existsSync(this.path)) {
      try {
        loaded = JSON.parse(readFileSync(this.path, "utf8")) as Record<string, Attempt>;
      } catch {
        // A torn write loses the counts (each batch gets bus.maxDeliver more tries), never the run.
      }
    }
    this.entries = loaded;
  }

  get(seq: number): Attempt | null {
    return this.entries[String(seq)] ?? null;
  }

  set(seq: number, a: Attempt | null): void {
    if (a) this.entries[String(seq)] = a;
    else delete this.entries[String(seq)];
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.entries));
    renameSync(tmp, this.path);
  }
}
