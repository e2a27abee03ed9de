// The rollout batch as it arrives from outside (the CLI's JSON, a learner's mini-batch): groups of
// responses with per-token log-probs. Validated here so every malformed value is reported by its path,
// e.g. `groups[1].responses[0].logp_old[3]`, before any arithmetic sees it.
import { z } from "zod";
import { InvalidBatchError } from "./errors.js";
import type { AlgorithmParams } from "./params.js";

export interface RolloutResponse {
  /** [T] current policy log-prob per response token; T is the response length |o| used by overlong shaping. */
  logp: number[];
  /** [T] behaviour (generating) policy log-probs. */
  logp_old: number[];
  /** [T] reference policy log-probs; required when kl_coef > 0, ignored otherwise. */
  logp_ref?: number[];
  /** [T] policy entropy per position (nats); required when entropy_coef > 0, ignored otherwise. */
  entropy?: number[];
  /** The response hit the length limit; with overlong_filter its tokens are masked out of the loss. */
  truncated?: boolean;
}

export interface RolloutGroup {
  /** [G] one scalar reward per response (the verifier's scale: 0/1 or -1/+1, the algorithms accept either). */
  rewards: number[];
  responses: RolloutResponse[];
}

export interface RolloutBatch {
  groups: RolloutGroup[];
}

const logProb = z.number().max(0, "a log-probability must be <= 0");
const tokens = z.array(logProb).min(1, "a response has at least one token");

const responseSchema = z.strictObject({
  logp: tokens,
  logp_old: tokens,
  logp_ref: tokens.optional(),
  entropy: z.array(z.number().min(0, "an entropy must be >= 0")).optional(),
  truncated: z.boolean().optional(),
});

const groupSchema = z.strictObject({
  rewards: z.array(z.number()).min(1, "a group has at least one reward"),
  responses: z.array(responseSchema).min(1, "a group has at least one response"),
});

const batchSchema = z.strictObject({ groups: z.array(groupSchema).min(1, "a batch has at least one group") });

/** ["groups", 1, "responses", 0, "logp_old"] -> "groups[1].responses[0].logp_old". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : `${out ? "." : ""}${String(k)}`;
  return out || "batch";
}

/** Checks the shape and value ranges of `input`, plus the lengths and fields `params` needs. */
export function validateBatch(input: unknown, params: AlgorithmParams): RolloutBatch {
  const parsed = batchSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path;
    const problem = issue.code === "unrecognized_keys" ? "unknown field" : issue.message;
    throw new InvalidBatchError(formatPath(path), problem);
  }
  const batch = parsed.data;
  batch.groups.forEach((g, gi) => {
    const at = (...rest: PropertyKey[]) => formatPath(["groups", gi, ...rest]);
    if (g.rewards.length !== g.responses.length) {
      throw new InvalidBatchError(at("rewards"), `has ${g.rewards.length} rewards for ${g.responses.length} responses`);
    }
    g.responses.forEach((r, ri) => {
      const t = r.logp.length;
      const need = (field: "logp_old" | "logp_ref" | "entropy", why: string | null) => {
        const v = r[field];
        if (v === undefined) {
          if (why !== null) throw new InvalidBatchError(at("responses", ri, field), `missing (needed because ${why})`);
          return;
        }
        if (v.length !== t) throw new InvalidBatchError(at("responses", ri, field), `has ${v.length} entries, logp has ${t}`);
      };
      need("logp_old", "every loss compares logp to logp_old");
      need("logp_ref", params.kl_coef > 0 ? `kl_coef = ${params.kl_coef} > 0` : null);
      need("entropy", params.entropy_coef > 0 ? `entropy_coef = ${params.entropy_coef} > 0` : null);
    });
  });
  return batch;
}
