// Options declared once, as data: each has a default, a check and a doc line. Resolving a user's object
// rejects unknown keys (listing the valid ones) and names the option in every error.
import { InvalidConfigError } from "./errors.js";

export interface OptionSpec<T> {
  /** Used when the option is absent; an option with neither `default` nor `derive` is required. */
  readonly default?: T;
  /** A default computed from the other options (resolved first), e.g. a fraction of another option. */
  readonly derive?: (resolved: Record<string, unknown>) => T;
  /** Returns a description of what the value must be when it is not acceptable, else null. */
  readonly check: (v: unknown) => string | null;
  readonly doc: string;
}

export type OptionTable<C> = { readonly [K in keyof C]-?: OptionSpec<C[K]> };

export function resolveOptions<C>(table: OptionTable<C>, given: unknown, what: string): C {
  if (given === undefined) given = {};
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new InvalidConfigError("", `${what}: options must be an object, got ${describe(given)}`);
  }
  const valid = Object.keys(table);
  for (const key of Object.keys(given)) {
    if (!valid.includes(key)) {
      throw new InvalidConfigError(key, `${what}: unknown option '${key}'. Valid options: ${valid.join(", ")}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const key of valid) {
    const spec = (table as Record<string, OptionSpec<unknown>>)[key];
    const v = (given as Record<string, unknown>)[key];
    if (v === undefined) {
      if (spec.derive !== undefined) continue; // filled in below, once every given option is known
      if (spec.default === undefined) throw new InvalidConfigError(key, `${what}: option '${key}' is required (${spec.doc})`);
      out[key] = spec.default;
      continue;
    }
    const problem = spec.check(v);
    if (problem !== null) throw new InvalidConfigError(key, `${what}: option '${key}' must be ${problem}, got ${describe(v)}`);
    out[key] = v;
  }
  for (const key of valid) {
    const spec = (table as Record<string, OptionSpec<unknown>>)[key];
    if (!(key in out) && spec.derive !== undefined) out[key] = spec.derive(out);
  }
  return out as C;
}

export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  return typeof v;
}

// Reusable checks.
export const isFraction = (v: unknown): string | null =>
  typeof v === "number" && v >= 0 && v <= 1 ? null : "a number in [0, 1]";
export const isPositiveInt = (v: unknown): string | null =>
  Number.isSafeInteger(v) && (v as number) >= 1 ? null : "a positive integer";
export const isNonNegativeInt = (v: unknown): string | null =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? null : "a non-negative integer";
export const isFiniteNumber = (v: unknown): string | null =>
  typeof v === "number" && Number.isFinite(v) ? null : "a finite number";
export const isBoolean = (v: unknown): string | null => (typeof v === "boolean" ? null : "true or false");
export const oneOf =
  (...names: readonly string[]) =>
  (v: unknown): string | null =>
    typeof v === "string" && names.includes(v) ? null : `one of ${names.map((n) => `'${n}'`).join(", ")}`;
