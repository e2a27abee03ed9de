// Loading a run config: YAML/JSON file + `key.path=value` overrides (the Hydra habit), validated against
// the schema. Every error names the key, what was wrong, and the allowed values or keys.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { RunConfigSchema, type RunConfig } from "./schema.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The schema node at a dotted path (for listing valid keys), or null past a free-form record. */
function shapeAt(path: (string | number | symbol)[]): z.ZodType | null {
  let node: z.ZodType = RunConfigSchema;
  for (const key of path) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) {
      const next = (node.shape as Record<string, z.ZodType>)[String(key)];
      if (!next) return null;
      node = next;
    } else {
      return null;
    }
  }
  return unwrap(node);
}

function unwrap(node: z.ZodType): z.ZodType {
  let n: z.ZodType = node;
  for (;;) {
    if (n instanceof z.ZodDefault || n instanceof z.ZodOptional) n = n.unwrap() as z.ZodType;
    else if (n instanceof z.ZodPipe) n = n.in as z.ZodType; // a transform's input: the keys a file may give
    else return n;
  }
}

function keysAt(path: (string | number | symbol)[]): string[] {
  const node = shapeAt(path);
  return node instanceof z.ZodObject ? Object.keys(node.shape as object) : [];
}

export function formatIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const at = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys") {
        const bad = issue.keys.map((k) => (at ? `${at}.${k}` : k)).join(", ");
        return `${source}: unknown key ${bad}; valid keys${at ? ` under ${at}` : ""}: ${keysAt(issue.path).join(", ")}`;
      }
      if (issue.code === "invalid_value" && "values" in issue) {
        return `${source}: ${at}: ${issue.message}; allowed values: ${(issue.values as unknown[]).map(String).join(", ")}`;
      }
      return `${source}: ${at || "(root)"}: ${issue.message}`;
    })
    .join("\n");
}

/** Parses a scalar override value as YAML would (numbers, booleans, null, lists), strings otherwise. */
export function parseOverrideValue(raw: string): unknown {
  try {
    return parseYaml(raw);
  } catch {
    return raw;
  }
}

export function applyOverride(target: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new ConfigError(`override '${assignment}' is not key=value (e.g. rollout.actors=2)`);
  const path = assignment.slice(0, eq).split(".");
  if (path.some((p) => p === "")) throw new ConfigError(`override key '${assignment.slice(0, eq)}' has an empty part`);
  const known = shapeAt(path.slice(0, -1));
  if (known instanceof z.ZodObject && !(path[path.length - 1] in (known.shape as object))) {
    throw new ConfigError(
      `override ${path.join(".")}: unknown key '${path[path.length - 1]}'; valid keys${path.length > 1 ? ` under ${path.slice(0, -1).join(".")}` : ""}: ${keysAt(path.slice(0, -1)).join(", ")}`,
    );
  }
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) throw new ConfigError(`override ${path.join(".")}: '${key}' is not a section`);
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = parseOverrideValue(assignment.slice(eq + 1));
}

export function resolveConfig(raw: unknown, overrides: string[] = [], source = "config"): RunConfig {
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new ConfigError(`${source}: the top level must be a mapping of sections (run, model, rollout, ...)`);
  }
  const merged = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const o of overrides) applyOverride(merged, o);
  const result = RunConfigSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  return result.data;
}

export function loadConfigFile(path: string, overrides: string[] = []): RunConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  return resolveConfig(raw, overrides, path);
}

/** Reads a secret from a file named in the config, trimmed; empty when no file is named. */
export function readSecret(file: string, what: string): string {
  if (!file) return "";
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`${what}: cannot read secret file ${file}: ${(err as Error).message}`);
  }
}
