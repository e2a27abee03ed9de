// An experiment file: one base run config, the algorithms and seeds to cross, and the variants to compare
// (by default the base algorithm alone vs base + LSPO's length filter). `planRuns` expands it into every
// run's full, validated RunConfig before anything starts, so a typo fails in a second, not after an hour.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { presets } from "@lspo/algos";
import { loadConfigFile, type RunConfig } from "@lspo/config";

const override = z.string().regex(/^[A-Za-z0-9_.]+=/, "a key=value run-config override");

export const ExperimentSchema = z.strictObject({
  /** Names the experiment directory (<out>/<name>-<timestamp>) and every run in it. */
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only").default("experiment"),
  /** The run config every run starts from; a relative path is relative to the experiment file. */
  base: z.string().min(1),
  /** Run-config overrides applied to every run (budget, steps, eval size, ...), before the run's own. */
  overrides: z.array(override).default([]),
  /** Base algorithms (libs/algos preset names). */
  algorithms: z.array(z.string().min(1)).min(1),
  /** One run per seed per (algorithm, variant); run.seed is set to it. */
  seeds: z.array(z.number().int().min(0)).min(1),
  /** Variant name -> its overrides. The first variant is the baseline the others are compared against. */
  variants: z
    .record(z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only"), z.array(override))
    .default({ base: ["sampler.lengthFilter=false"], lspo: ["sampler.lengthFilter=true"] }),
  /** Where experiment directories go (relative to the working directory). */
  out: z.string().default("runs/experiments"),
});

export type Experiment = z.infer<typeof ExperimentSchema> & { file: string };

export class ExperimentConfigError extends Error {
  override name = "ExperimentConfigError";
}

export function parseExperiment(raw: unknown, file: string): Experiment {
  const r = ExperimentSchema.safeParse(raw);
  if (!r.success) {
    const keys = Object.keys(ExperimentSchema.shape).join(", ");
    const msg = r.error.issues
      .map((i) =>
        i.code === "unrecognized_keys"
          ? `${file}: unknown key ${i.keys.join(", ")}; valid keys: ${keys}`
          : `${file}: ${i.path.map(String).join(".") || "(root)"}: ${i.message}`,
      )
      .join("\n");
    throw new ExperimentConfigError(msg);
  }
  const e = r.data;
  for (const a of e.algorithms) {
    if (!presets.has(a)) throw new ExperimentConfigError(`${file}: algorithms: unknown algorithm '${a}'; valid: ${presets.names().join(", ")}`);
  }
  if (new Set(e.algorithms).size !== e.algorithms.length) throw new ExperimentConfigError(`${file}: algorithms: listed twice: ${e.algorithms.join(", ")}`);
  if (new Set(e.seeds).size !== e.seeds.length) throw new ExperimentConfigError(`${file}: seeds: listed twice: ${e.seeds.join(", ")}`);
  if (Object.keys(e.variants).length < 2) throw new ExperimentConfigError(`${file}: variants: need at least two to compare, got ${Object.keys(e.variants).join(", ") || "none"}`);
  return { ...e, file };
}

export function loadExperiment(file: string): Experiment {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ExperimentConfigError(`${file}: ${(err as Error).message}`);
  }
  return parseExperiment(raw, file);
}

export interface PlannedRun {
  algorithm: string;
  variant: string;
  seed: number;
  /** `<algorithm>-<variant>-s<seed>`: the run's name and its directory under the experiment's runs/. */
  id: string;
  config: RunConfig;
}

/**
 * Every run of the experiment, variants adjacent per (algorithm, seed) so an interrupted experiment
 * leaves paired results. `extra` overrides (from the command line) apply to every run, after the file's.
 */
export function planRuns(e: Experiment, dir: string, extra: readonly string[] = []): PlannedRun[] {
  const base = resolve(dirname(e.file), e.base);
  const runs: PlannedRun[] = [];
  for (const algorithm of e.algorithms) {
    for (const seed of e.seeds) {
      for (const [variant, vo] of Object.entries(e.variants)) {
        const id = `${algorithm}-${variant}-s${seed}`;
        const overrides = [
          ...e.overrides, ...vo, ...extra,
          `learner.algorithm.name=${algorithm}`, `run.seed=${seed}`, `run.name=${id}`, `run.dir=${resolve(dir, "runs", id)}`,
        ];
        let config: RunConfig;
        try {
          config = loadConfigFile(base, overrides);
        } catch (err) {
          throw new ExperimentConfigError(`run ${id}: ${(err as Error).message}`);
        }
        runs.push({ algorithm, variant, seed, id, config });
      }
    }
  }
  return runs;
}
