// The `lspo pretrain` configuration, declared once (type, default, one-line meaning per key), loaded from
// YAML with `key.path=value` overrides. Unknown keys are errors that list the valid keys.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseOverrideValue } from "@lspo/config";
import { LEVEL_NUMBERS } from "@lspo/tasks";

const positiveInt = z.number().int().positive();
const level = z.number().int().refine((n) => LEVEL_NUMBERS.includes(n), { message: `difficulty levels are ${LEVEL_NUMBERS.join(", ")}` });

export const PretrainTaskSchema = z.strictObject({
  /** Seed of the synthetic problem streams (training order and the held-out sample). */
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  /** A level or an inclusive [min, max] range of levels (libs/tasks synthetic/levels.ts). */
  difficulty: z.union([level, z.tuple([level, level])]).default([1, 3]),
  /** Share of all possible prompts held out (decided by a hash of the prompt text). */
  testFraction: z.number().gt(0).lt(1).default(0.1),
  /**
   * Share of training examples whose target skips the working and gives only the final `#### <answer>`
   * line, as datasets that mix worked solutions with bare answers do. Decided per example by a seeded draw.
   */
  answerOnlyFraction: z.number().min(0).max(1).default(0),
});

export const PretrainTrainSchema = z.strictObject({
  steps: positiveInt.default(400),
  /** Sequences per optimisation step. */
  batchSize: positiveInt.default(32),
  /** Sequences per forward/backward pass (gradients summed); 0 = the whole batch at once. */
  microBatch: z.number().int().min(0).default(0),
  lr: z.number().positive().default(3e-3),
  warmupSteps: z.number().int().min(0).default(20),
  schedule: z.enum(["constant", "cosine"]).default("cosine"),
  /** Cosine floor as a fraction of the peak lr. */
  minLrRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).default(0.01),
  maxGradNorm: z.number().positive().default(1),
  /** Intra-op threads for the ORT sessions (0 = one per core). Default 1: multi-threaded CPU kernels sum in a
   *  thread-dependent order, so only one thread makes a run bit-reproducible; on this shared 2-core machine it
   *  was also the faster setting (100 steps: 24 s with 1 thread, 42-69 s with 2). */
  threads: z.number().int().min(0).default(1),
  /** Print a progress line every this many steps. */
  logEvery: positiveInt.default(25),
});

export const PretrainEvalSchema = z.strictObject({
  /** Held-out problems scored greedily for pretrain.json's accuracy. */
  problems: positiveInt.default(512),
  maxNewTokens: positiveInt.default(96),
  /** Prompts sampled `groupSize` times at `temperature` to measure how many RL groups would be mixed. */
  groupPrompts: z.number().int().min(0).default(128),
  groupSize: positiveInt.default(8),
  temperature: z.number().positive().default(1),
});

export const PretrainConfigSchema = z.strictObject({
  /** Seed of the weight init (and, with task.seed, everything else). */
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  /** Output model directory. */
  out: z.string().min(1).default("runs/demo-base"),
  /** An `lspo model init` spec without its seed: initializer_range, tokenizer.words, model (config.json keys). */
  model: z.record(z.string(), z.unknown()).refine((m) => !("seed" in m), { message: "set the init seed with the top-level 'seed', not model.seed" }),
  task: PretrainTaskSchema.default(PretrainTaskSchema.parse({})),
  train: PretrainTrainSchema.default(PretrainTrainSchema.parse({})),
  eval: PretrainEvalSchema.default(PretrainEvalSchema.parse({})),
}).refine((c) => c.train.schedule !== "cosine" || c.train.warmupSteps < c.train.steps, {
  path: ["train", "warmupSteps"], message: "must be below train.steps for the cosine schedule (it decays after warmup)",
});

export type PretrainConfig = z.infer<typeof PretrainConfigSchema>;

export class PretrainConfigError extends Error {
  override name = "PretrainConfigError";
}

function unwrap(node: z.ZodType): z.ZodType {
  let n = node;
  while (n instanceof z.ZodDefault || n instanceof z.ZodOptional) n = n.unwrap() as z.ZodType;
  return n;
}

/** The object schema at a dotted path, or null where the path leaves declared objects (e.g. into `model`). */
function objectAt(path: readonly PropertyKey[]): z.ZodObject | null {
  let node: z.ZodType = PretrainConfigSchema;
  for (const key of path) {
    const obj = unwrap(node);
    if (!(obj instanceof z.ZodObject)) return null;
    const next = (obj.shape as Record<string, z.ZodType>)[String(key)];
    if (!next) return null;
    node = next;
  }
  const obj = unwrap(node);
  return obj instanceof z.ZodObject ? obj : null;
}

function validKeys(path: readonly PropertyKey[]): string {
  const obj = objectAt(path);
  return obj ? Object.keys(obj.shape).join(", ") : "(free-form)";
}

/** Sets `a.b.c=value` in `target` (value parsed as YAML: numbers, booleans, lists like [1,3]). */
export function applyPretrainOverride(target: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf("=");
  if (eq <= 0) throw new PretrainConfigError(`override '${assignment}' is not key=value (e.g. train.steps=200)`);
  const path = assignment.slice(0, eq).split(".");
  if (path.some((p) => p === "")) throw new PretrainConfigError(`override key '${assignment.slice(0, eq)}' has an empty part`);
  const parent = objectAt(path.slice(0, -1));
  if (parent && !(path[path.length - 1] in parent.shape)) {
    throw new PretrainConfigError(`override ${path.join(".")}: unknown key '${path[path.length - 1]}'; valid keys${path.length > 1 ? ` under ${path.slice(0, -1).join(".")}` : ""}: ${validKeys(path.slice(0, -1))}`);
  }
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined || next === null) node[key] = {};
    else if (typeof next !== "object" || Array.isArray(next)) throw new PretrainConfigError(`override ${path.join(".")}: '${key}' is not a section`);
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = parseOverrideValue(assignment.slice(eq + 1));
}

function describeIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      const at = issue.path.map(String).join(".");
      if (issue.code === "unrecognized_keys") {
        return `${source}: unknown key ${issue.keys.map((k) => (at ? `${at}.${k}` : k)).join(", ")}; valid keys${at ? ` under ${at}` : ""}: ${validKeys(issue.path)}`;
      }
      return `${source}: ${at || "(root)"}: ${issue.message}`;
    })
    .join("\n");
}

export function resolvePretrainConfig(raw: unknown, overrides: readonly string[] = [], source = "pretrain config"): PretrainConfig {
  if (raw !== undefined && raw !== null && (typeof raw !== "object" || Array.isArray(raw))) {
    throw new PretrainConfigError(`${source}: the top level must be a mapping (seed, out, model, task, train, eval)`);
  }
  const merged = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const o of overrides) applyPretrainOverride(merged, o);
  const result = PretrainConfigSchema.safeParse(merged);
  if (!result.success) throw new PretrainConfigError(describeIssues(result.error, source));
  return result.data;
}

export function loadPretrainConfig(file: string, overrides: readonly string[] = []): PretrainConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PretrainConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new PretrainConfigError(`${file}: not valid YAML: ${(e as Error).message}`);
  }
  return resolvePretrainConfig(raw, overrides, file);
}
