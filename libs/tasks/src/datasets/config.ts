// A dataset as configured (YAML/JSON): validated with zod; unknown keys are errors.
import { z } from "zod";
import { SCHEMAS, type SchemaName } from "./schemas.js";
import { DatasetConfigError } from "./errors.js";

const schemaNames = Object.keys(SCHEMAS) as [SchemaName, ...SchemaName[]];

export const datasetConfigSchema = z
  .strictObject({
    /** The file: `.jsonl` / `.json` lines, or `.parquet`. */
    path: z.string().min(1),
    /** Defaults from the file extension. */
    format: z.enum(["jsonl", "parquet"]).optional(),
    schema: z.enum(schemaNames),
    /** Required for (and only allowed with) schema `fields`. */
    fields: z
      .strictObject({
        prompt: z.string().min(1),
        answer: z.string().min(1),
        solution: z.string().min(1).optional(),
        /** plain: the field is the answer; hashes: after the last `####`; boxed: the last `\boxed{}`. */
        answer_format: z.enum(["plain", "hashes", "boxed"]).default("plain"),
      })
      .optional(),
    /** Use only the first N rows (after reading, before any shuffling). */
    limit: z.number().int().positive().optional(),
  })
  .refine((c) => (c.schema === "fields") === (c.fields !== undefined), {
    message: "`fields` is required with schema 'fields' and not allowed with the other schemas",
    path: ["fields"],
  });

export type DatasetConfig = z.output<typeof datasetConfigSchema>;
export type DatasetConfigInput = z.input<typeof datasetConfigSchema>;

export function parseDatasetConfig(input: unknown): DatasetConfig {
  const r = datasetConfigSchema.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(config)"}: ${i.message}`);
    throw new DatasetConfigError(`invalid dataset config: ${problems.join("; ")}`);
  }
  return r.data;
}
