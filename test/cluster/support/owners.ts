// Whose are these namespaces? A harness that builds hosts out of network namespaces writes one owner record
// per cluster (`<dir>/<id>.json`, with at least the owner's pid). After a crash, the next run finds the
// clusters whose owner is gone, by namespace name or by record, and tears them down; a cluster of a live run
// (a second suite running now) is left alone. Used by test/cluster and test/k8s-live.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { netnsList, pidAlive } from "./ip.js";

export interface Orphan<T> {
  id: string;
  /** Its namespaces still present (none when only the record is left). */
  namespaces: string[];
  /** Its owner record, or null when there is none (the owner died before writing it). */
  owner: T | null;
}

/** Clusters whose owner process is gone: namespaces matching `nsRe` (group 1 = the cluster id) and records in `ownersDir`. */
export function orphanedClusters<T extends { pid: number }>(nsRe: RegExp, ownersDir: string): Orphan<T>[] {
  const byId = new Map<string, string[]>();
  for (const ns of netnsList()) {
    const m = nsRe.exec(ns);
    if (m) byId.set(m[1], [...(byId.get(m[1]) ?? []), ns]);
  }
  let records: string[] = [];
  try {
    records = readdirSync(ownersDir).filter((f) => f.endsWith(".json"));
  } catch {
    /* no owners yet */
  }
  for (const f of records) if (!byId.has(f.slice(0, -5))) byId.set(f.slice(0, -5), []);
  const out: Orphan<T>[] = [];
  for (const [id, namespaces] of byId) {
    let owner: T | null = null;
    try {
      owner = JSON.parse(readFileSync(join(ownersDir, `${id}.json`), "utf8")) as T;
    } catch {
      /* no record: its owner died before writing one, or it was removed */
    }
    if (owner && (owner.pid === process.pid || pidAlive(owner.pid))) continue;
    out.push({ id, namespaces, owner });
  }
  return out;
}
