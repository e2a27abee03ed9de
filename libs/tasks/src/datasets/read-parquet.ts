// Parquet through hyparquet (pure JavaScript), with hyparquet-compressors for the codecs beyond Snappy
// (gzip, zstd, brotli, lz4) that Hugging Face dataset exports use.
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DatasetError } from "./errors.js";
import type { RawRow } from "./read-jsonl.js";

export async function readParquetRows(file: string): Promise<RawRow[]> {
  let objects: Record<string, unknown>[];
  try {
    const buffer = await asyncBufferFromFile(file);
    objects = (await parquetReadObjects({ file: buffer, compressors })) as Record<string, unknown>[];
  } catch (e) {
    throw new DatasetError(file, undefined, `cannot read as Parquet: ${(e as Error).message}`, { cause: e });
  }
  return objects.map((value, i) => ({ row: i + 1, value }));
}
