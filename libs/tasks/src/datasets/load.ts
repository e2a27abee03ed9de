// Loads a configured dataset into TaskExamples. Reading (JSONL / Parquet) and interpreting (the schema)
// are separate tables, so any schema works with any file format.
import { basename, extname } from "node:path";
import { type DatasetConfigInput, parseDatasetConfig } from "./config.js";
import { DatasetConfigError, DatasetError } from "./errors.js";
import type { TaskExample } from "./example.js";
import { type RawRow, readJsonlRows } from "./read-jsonl.js";
import { readParquetRows } from "./read-parquet.js";
import { RowError, SCHEMAS } from "./schemas.js";

const READERS: Record<"jsonl" | "parquet", (file: string) => Promise<RawRow[]>> = {
  jsonl: readJsonlRows,
  parquet: readParquetRows,
};

const EXTENSIONS: Record<string, keyof typeof READERS> = { ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet" };

export async function loadDataset(input: DatasetConfigInput): Promise<TaskExample[]> {
  const config = parseDatasetConfig(input);
  const format = config.format ?? EXTENSIONS[extname(config.path).toLowerCase()];
  if (!format) {
    throw new DatasetConfigError(
      `cannot tell the format of '${config.path}' from its extension; set format to one of: ${Object.keys(READERS).join(", ")}`,
    );
  }
  let rows = await READERS[format](config.path);
  if (config.limit !== undefined) rows = rows.slice(0, config.limit);
  if (rows.length === 0) throw new DatasetError(config.path, undefined, "has no rows");
  const schema = SCHEMAS[config.schema];
  const name = basename(config.path);
  return rows.map(({ row, value }) => {
    try {
      return { id: `${name}#${row}`, ...schema.toExample(value, config.fields) };
    } catch (e) {
      if (e instanceof RowError) throw new DatasetError(config.path, row, `${e.message} (schema '${config.schema}': ${schema.describe})`);
      throw e;
    }
  });
}
