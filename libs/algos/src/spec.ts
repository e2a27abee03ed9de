// A validated algorithm spec = preset name + complete parameters. Built from a preset plus overrides of
// any field; unknown keys are rejected; every error names the field and what is allowed instead.
import { z } from "zod";
import { advantageEstimators } from "./advantages.js";
import { aggregations } from "./aggregation.js";
import { InvalidSpecError, type SpecIssue } from "./errors.js";
import { klEstimators } from "./kl.js";
import { type AlgorithmParams, PARAM_NAMES } from "./params.js";
import { policyLosses } from "./policy-losses.js";
import { presets } from "./presets.js";
import type { Registry } from "./registry.js";

export interface AlgorithmSpec {
  /** The preset the parameters started from (`grpo`, `dapo`, `gspo`, `dr_grpo`, or a registered one). */
  name: string;
  params: AlgorithmParams;
}

/** A string that must name an entry of `registry`; checked at parse time so later registrations count. */
function registered(registry: Registry<unknown>) {
  return z.string().superRefine((name, ctx) => {
    if (!registry.has(name)) {
      ctx.addIssue({ code: "custom", message: `unknown ${registry.kind} '${name}'; valid: ${registry.names().join(", ")}` });
    }
  });
}

const paramsSchema = z
  .strictObject({
    advantage: registered(advantageEstimators),
    policy_loss: registered(policyLosses),
    clip_low: z.number().gt(0).lt(1),
    clip_high: z.number().gt(0),
    dual_clip: z.number().gt(1).nullable(),
    kl_coef: z.number().min(0),
    kl_estimator: registered(klEstimators),
    entropy_coef: z.number().min(0),
    loss_agg: registered(aggregations),
    token_sum_norm: z.number().gt(0).nullable(),
    max_response_length: z.int().positive(),
    overlong_shaping: z.boolean(),
    overlong_buffer: z.int().positive(),
    overlong_penalty_factor: z.number().min(0),
    overlong_filter: z.boolean(),
    log_ratio_clamp: z.number().gt(0).nullable(),
  } satisfies Record<keyof AlgorithmParams, z.ZodType>)
  .superRefine((p, ctx) => {
    if (p.overlong_shaping && p.overlong_buffer > p.max_response_length) {
      ctx.addIssue({
        code: "custom",
        path: ["overlong_buffer"],
        message: `must be <= max_response_length (${p.max_response_length}) when overlong_shaping is on`,
      });
    }
  });

function issuesOf(error: z.ZodError, prefix: string): SpecIssue[] {
  return error.issues.flatMap((issue): SpecIssue[] => {
    const field = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => ({
        field: [field, k].filter(Boolean).join("."),
        problem: `unknown parameter; valid: ${PARAM_NAMES.join(", ")}`,
      }));
    }
    return [{ field, problem: issue.message }];
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `{name, params?}` -> a complete, validated spec: the named preset's parameters with `params` (any
 * subset of fields) laid over them. A stored complete spec passes through unchanged.
 */
export function resolveSpec(input: unknown): AlgorithmSpec {
  if (!isRecord(input)) throw new InvalidSpecError([{ field: "spec", problem: "expected an object {name, params}" }]);
  const extra = Object.keys(input).filter((k) => k !== "name" && k !== "params");
  if (extra.length > 0) {
    throw new InvalidSpecError(extra.map((k) => ({ field: k, problem: "unknown key; valid: name, params" })));
  }
  const { name, params = {} } = input;
  if (typeof name !== "string" || !presets.has(name)) {
    const shown = typeof name === "string" ? `'${name}'` : String(name);
    throw new InvalidSpecError([{ field: "name", problem: `unknown algorithm ${shown}; valid: ${presets.names().join(", ")}` }]);
  }
  if (!isRecord(params)) throw new InvalidSpecError([{ field: "params", problem: "expected an object of parameter overrides" }]);
  const parsed = paramsSchema.safeParse({ ...presets.get(name).params, ...params });
  if (!parsed.success) throw new InvalidSpecError(issuesOf(parsed.error, "params"));
  return { name, params: parsed.data };
}

/** A preset with optional overrides, e.g. `presetSpec("gspo", { clip_high: 5e-4 })`. */
export function presetSpec(name: string, overrides: Record<string, unknown> = {}): AlgorithmSpec {
  return resolveSpec({ name, params: overrides });
}

/** `--set` values: `true`/`false` -> boolean, `null` -> null, a finite number -> number, else the string. */
export function parseSetValue(raw: string): unknown {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  const n = Number(raw);
  if (raw.trim() !== "" && Number.isFinite(n)) return n;
  return raw;
}

/** `key=value` pairs (from `--set`) -> an overrides object. The spec validates names and values. */
export function parseOverrides(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidSpecError([{ field: pair, problem: "expected key=value (e.g. clip_high=0.28)" }]);
    const key = pair.slice(0, eq);
    if (key in out) throw new InvalidSpecError([{ field: `params.${key}`, problem: "set twice; give each key once" }]);
    out[key] = parseSetValue(pair.slice(eq + 1));
  }
  return out;
}
