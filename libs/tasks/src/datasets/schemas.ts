// Dataset schemas: how a raw row of a known dataset becomes a TaskExample. A table; a new schema is one
// row. `fields` maps any other dataset through a field mapping from the config.
import { goldAnswer } from "../verifier/extract.js";
import type { ChatMessage, TaskExample } from "./example.js";

/** How to read the reference answer out of the answer field. */
export type AnswerFormat = "plain" | "hashes" | "boxed";

export interface FieldMapping {
  /** Dotted path to the prompt: a string or a chat list [{role, content}]. */
  prompt: string;
  /** Dotted path to the answer field. */
  answer: string;
  /** Dotted path to a worked solution, if the dataset has one. */
  solution?: string;
  answer_format: AnswerFormat;
}

/** Thrown by a schema for a bad row; the loader adds the file and row. */
export class RowError extends Error {}

export interface Schema {
  /** What rows look like, for error messages and docs. */
  describe: string;
  toExample(row: Record<string, unknown>, fields: FieldMapping | undefined): Omit<TaskExample, "id">;
}

/** Value at a dotted path (`reward_model.ground_truth`); RowError naming the path when absent. */
export function at(row: Record<string, unknown>, path: string): unknown {
  let value: unknown = row;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || !(key in value)) throw new RowError(`missing field '${path}'`);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function text(row: Record<string, unknown>, path: string): string {
  const value = at(row, path);
  if (typeof value !== "string") throw new RowError(`field '${path}' must be a string, got ${describeType(value)}`);
  if (value.trim() === "") throw new RowError(`field '${path}' is empty`);
  return value;
}

/** An answer field: text, or a number (Parquet datasets store numeric answers as INT64/DOUBLE). */
function answerText(row: Record<string, unknown>, path: string): string {
  const value = at(row, path);
  if (typeof value === "bigint" || (typeof value === "number" && Number.isFinite(value))) return String(value);
  return text(row, path);
}

function describeType(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v;
}

function chat(row: Record<string, unknown>, path: string): ChatMessage[] {
  const value = at(row, path);
  if (!Array.isArray(value) || value.length === 0) throw new RowError(`field '${path}' must be a non-empty list of {role, content}, got ${describeType(value)}`);
  return value.map((m, i) => {
    const ok = typeof m === "object" && m !== null && typeof m.role === "string" && typeof m.content === "string";
    if (!ok) throw new RowError(`field '${path}[${i}]' must be {role: string, content: string}`);
    return { role: m.role as string, content: m.content as string };
  });
}

function promptAt(row: Record<string, unknown>, path: string): string | ChatMessage[] {
  return Array.isArray(at(row, path)) ? chat(row, path) : text(row, path);
}

const answerReaders: Record<AnswerFormat, (field: string, path: string) => string> = {
  plain: (field) => field.trim(),
  hashes: (field, path) => {
    const i = field.lastIndexOf("####");
    const answer = i < 0 ? "" : field.slice(i + 4).split("\n")[0].trim();
    if (!answer) throw new RowError(`field '${path}' has no '#### <answer>' line`);
    return answer;
  },
  boxed: (field, path) => {
    const answer = /\\(?:boxed|fbox)(?![A-Za-z])/.test(field) ? goldAnswer(field) : undefined;
    if (!answer) throw new RowError(`field '${path}' has no closed \\boxed{...} answer`);
    return answer;
  },
};

export const SCHEMAS = {
  gsm8k: {
    describe: "{question: string, answer: string ending in '#### <answer>'}",
    toExample: (row) => {
      const solution = text(row, "answer");
      return { prompt: text(row, "question"), answer: answerReaders.hashes(solution, "answer"), solution };
    },
  },
  math: {
    describe: "{problem: string, solution: string with a final \\boxed{<answer>}}",
    toExample: (row) => {
      const solution = text(row, "solution");
      return { prompt: text(row, "problem"), answer: answerReaders.boxed(solution, "solution"), solution };
    },
  },
  dapo: {
    describe: "{prompt: [{role, content}, ...], reward_model: {ground_truth: string}} (DAPO-Math-17K)",
    toExample: (row) => ({ prompt: chat(row, "prompt"), answer: answerText(row, "reward_model.ground_truth").trim() }),
  },
  fields: {
    describe: "any rows, read through the config's `fields` mapping",
    toExample: (row, fields) => {
      if (!fields) throw new RowError("schema 'fields' needs a `fields` mapping in the config");
      const example: Omit<TaskExample, "id"> = {
        prompt: promptAt(row, fields.prompt),
        answer: answerReaders[fields.answer_format](answerText(row, fields.answer), fields.answer),
      };
      if (fields.solution !== undefined) example.solution = text(row, fields.solution);
      return example;
    },
  },
} as const satisfies Record<string, Schema>;

export type SchemaName = keyof typeof SCHEMAS;
