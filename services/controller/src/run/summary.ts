// summary.json: every prompt of the run accounted for, by uid (ledger.ts). A requested prompt ends in exactly
// one terminal state: trained at a step, or dropped with a reason (the sampler's outcomes, stale at the
// sampler or at the learner, overflow, unused, cancelled at wind-down, dead-lettered). `lost` (uids with no
// terminal state) must be 0; `duplicates` (uids trained twice in the learner's surviving history, across
// restarts) must be 0. Redeliveries the sampler caught are `duplicatesSuppressed`. The counters beside the
// ledger (kept, dropped, unused, ...) are the actors' own tallies, kept for comparison.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunConfig } from "@lspo/config";
import type { ActorRecord, LearnerServiceStatusResponse, StatsResponse } from "@lspo/proto";
import type { MetricRecord } from "@lspo/telemetry";
import type { EvalResult } from "./evaluate.js";
import type { LedgerReport } from "./ledger.js";

export interface Summary {
  run: string;
  dir: string;
  mode: string;
  algorithm: string;
  lengthFilter: boolean;
  steps: number;
  requested: number;
  generated: number;
  verified: number;
  kept: number;
  dropped: Record<string, number>;
  trained: number;
  unused: number;
  cancelled: number;
  /** From the ledger: uids trained twice / uids without a terminal state. */
  duplicates: number;
  duplicatesSuppressed: number;
  lost: number;
  /** Every requested uid's terminal state, counted; lostUids/duplicateUids capped for debugging. */
  ledger: LedgerReport;
  restarts: number;
  actors: Array<{ name: string; kind: string; node: string; gpuIds: number[]; restarts: number; state: number }>;
  /** Held-out problems per evaluation (eval.prompts) and the rollout temperature (the sampled accuracy's). */
  evalPrompts: number;
  temperature: number;
  /** Which accuracy accuracy_before/after hold (eval.metric): "greedy" or "sampled" (avg@eval.samples at `temperature`). */
  accuracy_metric: "greedy" | "sampled";
  /** Held-out accuracy before and after training, as fractions: the eval.metric one. */
  accuracy_before: number | null;
  accuracy_after: number | null;
  greedy_accuracy_before: number | null;
  greedy_accuracy_after: number | null;
  /** Held-out sampled accuracy at rollout.temperature before and after (null unless eval.samples > 0). */
  sampled_accuracy_before: number | null;
  sampled_accuracy_after: number | null;
  evals: Array<{ step: number; accuracy: number; sampledAccuracy: number | null; policyVersion: number }>;
  rewardCurve: Array<{ step: number; reward: number; algorithm: string }>;
  /** The updates' clip fractions and approximate KL, token-weighted over every update (null: no update). */
  training: TrainingMetrics | null;
  swaps: Array<{ step: number; from: string; to: string }>;
  /** Response tokens in the updates (trained groups only). */
  rolloutTokens: number;
  /** Response tokens generated for every judged group, kept or not: the run's generation cost. */
  generatedTokens: number;
  wallSeconds: number;
}

export interface SummaryInput {
  config: RunConfig;
  requested: number;
  sampler: StatsResponse;
  learner: LearnerServiceStatusResponse;
  restarts: number;
  actors: ActorRecord[];
  evals: Array<EvalResult & { step: number }>;
  metrics: MetricRecord[];
  /** The sampler's judgement log (sampler.jsonl): one line per judged group with its mean response length. */
  judged: Array<{ uid?: string; length: number; outcome: string }>;
  ledger: LedgerReport;
  wallSeconds: number;
  dir: string;
}

export function buildSummary(i: SummaryInput): Summary {
  const detail = (i.sampler.detail ?? {}) as { outcomes?: Record<string, number>; received?: number };
  const outcomes = detail.outcomes ?? {};
  const offered = Number(i.sampler.offered);
  const duplicatesSuppressed = Number(i.sampler.duplicates);
  const stale = Number(i.sampler.stale);
  const judged = detail.received ?? offered - duplicatesSuppressed + stale;
  const counters = (i.learner.status?.counters ?? {}) as { trainedGroups?: number; duplicates?: number; stale?: number; batchesConsumed?: number };
  // A learner that crashed replays the batches after its checkpoint: the updates (and swaps) it had made
  // since are published again. The run's history is the surviving one: the last record per step.
  const updates = lastPerKey(i.metrics.filter((r) => r.event === "update"), (r) => String(r.step));
  // stale: at the sampler on arrival; staleAtLearner: kept, but past the bound by the time of the update.
  const dropped: Record<string, number> = { stale, staleAtLearner: counters.stale ?? 0 };
  for (const [k, v] of Object.entries(outcomes)) if (!["short", "long", "unfiltered", "warm-up-kept", "duplicate"].includes(k)) dropped[k] = v;
  dropped["overflow"] = Number(i.sampler.discardedOverflow);
  const first = i.evals[0];
  const last = i.evals[i.evals.length - 1];
  const headline = (e: EvalResult) => (i.config.eval.metric === "sampled" ? (e.sampledAccuracy ?? e.accuracy) : e.accuracy);
  const summary: Summary = {
    run: i.config.run.name,
    dir: i.dir,
    mode: i.config.run.mode,
    algorithm: i.config.learner.algorithm.name,
    lengthFilter: i.config.sampler.lengthFilter,
    steps: Number(i.learner.step),
    requested: i.requested,
    generated: judged,
    verified: judged,
    kept: Number(i.sampler.accepted),
    dropped,
    trained: counters.trainedGroups ?? 0,
    // Kept groups never trained: still pending in the sampler at the end, or in batches past run.steps.
    unused: Number(i.sampler.unused) + Math.max(0, Number(i.sampler.batchesEmitted) - (counters.batchesConsumed ?? 0)) * i.config.sampler.batchSize,
    // From the ledger, not the purge count: a prompt a crashed NATS server brought back (its ack not yet
    // persisted) was judged once already and is purged again at wind-down, but it was not cancelled.
    cancelled: i.ledger.dropped.cancelled ?? 0,
    duplicates: i.ledger.duplicates,
    duplicatesSuppressed,
    lost: i.ledger.lost,
    ledger: i.ledger,
    restarts: i.restarts,
    // Where each actor ran (its agent's node name) and on which GPUs (its CUDA_VISIBLE_DEVICES).
    actors: i.actors.map((a) => ({ name: a.name, kind: a.kind, node: a.node, gpuIds: a.resources?.gpuIds ?? [], restarts: a.restarts, state: a.state })),
    evalPrompts: i.evals[0]?.total ?? i.config.eval.prompts,
    temperature: i.config.rollout.temperature,
    accuracy_metric: i.config.eval.metric,
    accuracy_before: first ? headline(first) : null,
    accuracy_after: last ? headline(last) : null,
    greedy_accuracy_before: first ? first.accuracy : null,
    greedy_accuracy_after: last ? last.accuracy : null,
    sampled_accuracy_before: i.evals.length ? i.evals[0].sampledAccuracy : null,
    sampled_accuracy_after: i.evals.length ? i.evals[i.evals.length - 1].sampledAccuracy : null,
    evals: i.evals.map((e) => ({ step: e.step, accuracy: e.accuracy, sampledAccuracy: e.sampledAccuracy, policyVersion: e.policyVersion })),
    rewardCurve: updates.map((r) => ({ step: Number(r.step), reward: Number(r.meanReward), algorithm: String(r.algorithm) })),
    training: trainingMetrics(updates),
    swaps: lastPerKey(i.metrics.filter((r) => r.event === "swap"), (r) => `${r.step}:${r.to}:${JSON.stringify(r.parameters ?? null)}`)
      .map((r) => ({ step: Number(r.step), from: String(r.from), to: String(r.to) })),
    rolloutTokens: updates.reduce((n, r) => n + Number(r.responseTokens ?? 0), 0),
    generatedTokens: generatedTokens(i.judged, i.config.rollout.groupSize),
    wallSeconds: i.wallSeconds,
  };
  writeFileSync(join(i.dir, "summary.json"), JSON.stringify(summary, null, 1));
  return summary;
}

/**
 * Tokens generated for the judged groups: each line holds a group's mean length over its G responses. A
 * uid counts once (a sampler restarted mid-commit judges its unacknowledged messages again).
 */
export function generatedTokens(judged: ReadonlyArray<{ uid?: string; length: number; outcome: string }>, groupSize: number): number {
  const seen = new Set<string>();
  let n = 0;
  for (const j of judged) {
    if (j.outcome === "duplicate" || (j.uid !== undefined && seen.has(j.uid))) continue;
    if (j.uid !== undefined) seen.add(j.uid);
    n += Math.round(j.length * groupSize);
  }
  return n;
}

export interface TrainingMetrics {
  /** Response tokens the fractions are over. */
  tokens: number;
  clip_frac_low: number;
  clip_frac_high: number;
  clip_frac_dual: number;
  approx_kl: number;
}

/**
 * The run's clip fractions and KL as one number each: every update's per-token metric weighted by its
 * tokens, so the run's figure is the fraction of all trained tokens (as each update's is of its own).
 */
export function trainingMetrics(updates: readonly MetricRecord[]): TrainingMetrics | null {
  const names = ["clip_frac_low", "clip_frac_high", "clip_frac_dual", "approx_kl"] as const;
  const sums = { clip_frac_low: 0, clip_frac_high: 0, clip_frac_dual: 0, approx_kl: 0 };
  let tokens = 0;
  for (const u of updates) {
    const m = (u.metrics ?? {}) as Record<string, unknown>;
    const n = Number(m.tokens ?? 0);
    if (!(n > 0)) continue;
    tokens += n;
    for (const k of names) sums[k] += n * Number(m[k] ?? 0);
  }
  if (tokens === 0) return null;
  return { tokens, ...Object.fromEntries(names.map((k) => [k, sums[k] / tokens])) } as TrainingMetrics;
}

/** The last record of each key, in the order of those last records. */
function lastPerKey<T>(records: readonly T[], key: (r: T) => string): T[] {
  const last = new Map<string, number>();
  records.forEach((r, n) => last.set(key(r), n));
  return records.filter((r, n) => last.get(key(r)) === n);
}
