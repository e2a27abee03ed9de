// JSON Lines: one JSON object per line; blank lines are skipped. A row's number is its line number,
// so an error points at the line an editor shows.
import { readFile } from "node:fs/promises";
import { DatasetError } from "./errors.js";

export interface RawRow {
  /** 1-based: the JSONL line number, or the Parquet row index + 1. */
  row: number;
  value: Record<string, unknown>;
}

export async function readJsonlRows(file: string): Promise<RawRow[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new DatasetError(file, undefined, `cannot read: ${(e as Error).message}`, { cause: e });
  }
  const rows: RawRow[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DatasetError(file, i + 1, `invalid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new DatasetError(file, i + 1, `expected a JSON object, got ${Array.isArray(value) ? "an array" : typeof value}`);
    }
    rows.push({ row: i + 1, value: value as Record<string, unknown> });
  }
  return rows;
}
