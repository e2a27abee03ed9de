// Reads an artifact as a view sees it: JSON parsed (`.json`, `.json.gz`), anything else as text (`.md`,
// `.log.gz`, `.jsonl.gz`: gzip is undone first). Provenance is what the artifact says about the tree it was
// measured on: a JSON artifact's `provenance.label` (libs/telemetry's startProvenance), or in a text
// artifact the first "at commit <sha>" / "uncommitted (based on <sha>)" it prints (an experiment's table.md
// ends with its label). `null`: the artifact records none.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export interface Artifact {
  path: string;
  data: unknown;
  provenance: string | null;
}

const LABEL = /(?<![A-Za-z])(at commit [0-9a-f]{7,40}|uncommitted \((?:based on [0-9a-f]{7,40}|not a git checkout)\))/;

/** The artifact at `path` (relative to `root`), or null when there is no such file. */
export function readArtifact(root: string, path: string): Artifact | null {
  const file = join(root, path);
  if (!existsSync(file)) return null;
  const raw = readFileSync(file);
  const text = (path.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  const isJson = /\.json(\.gz)?$/.test(path);
  const data: unknown = isJson ? JSON.parse(text) : text;
  const label = isJson ? (data as { provenance?: { label?: unknown } }).provenance?.label : LABEL.exec(text)?.[1];
  return { path, data, provenance: typeof label === "string" ? label : null };
}
