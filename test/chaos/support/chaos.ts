// Shared by the fault-injection suite: the smoke run's config, the seeded fault schedule, and the
// accounting every scenario must end with. LSPO_CHAOS=long (npm run test:chaos) selects more faults and
// longer runs; the default is the short form that runs in `npm test`.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect } from "vitest";
import { loadConfigFile, type RunConfig } from "@lspo/config";
import { createRng, type Rng } from "@lspo/model";
import type { RunningRun, Summary } from "@lspo/controller";

export const root = resolve(import.meta.dirname, "../../..");
export const LONG = process.env.LSPO_CHAOS === "long";
/** The seed of every random choice in the suite (LSPO_CHAOS_SEED to replay another schedule). */
export const SEED = Number(process.env.LSPO_CHAOS_SEED ?? 20240611);

/** The smoke run with short ack waits, so a dead consumer's messages come back in seconds, not minutes. */
export function chaosConfig(name: string, overrides: string[] = []): RunConfig {
  const dir = mkdtempSync(join(tmpdir(), `lspo-chaos-${name}-`));
  return loadConfigFile(join(root, "configs/smoke.yaml"), [
    `run.name=${name}`,
    `run.dir=${dir}`,
    "run.timeoutS=120",
    "rollout.ackWaitMs=4000",
    "verifier.ackWaitMs=4000",
    "sampler.ackWaitMs=4000",
    "rollout.maxRestarts=-1",
    "verifier.maxRestarts=-1",
    "sampler.maxRestarts=-1",
    "learner.maxRestarts=-1",
    ...overrides,
  ]);
}

export type MetricRecord = Record<string, unknown> & { event: string };

export function metricsOf(dir: string): MetricRecord[] {
  const path = join(dir, "metrics.jsonl");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as MetricRecord);
}

export const updatesOf = (dir: string) => metricsOf(dir).filter((r) => r.event === "update");

/**
 * What every scenario ends with: nothing lost, nothing trained twice, and every requested prompt in exactly
 * one place (kept or dropped by a named reason, or cancelled at the end), every kept group trained, dropped
 * as stale at the learner, or left unused.
 */
export function expectAccounted(s: Summary): void {
  expect(s.lost, "lost").toBe(0);
  expect(s.duplicates, "duplicates").toBe(0);
  // By uid: every requested uid in exactly one terminal state, none trained twice across restarts.
  expect(s.ledger.requested, "ledger.requested").toBe(s.requested);
  expect(s.ledger.lost, `ledger.lost (${s.ledger.lostUids.join(", ")})`).toBe(0);
  expect(s.ledger.duplicates, `ledger.duplicates (${s.ledger.duplicateUids.join(", ")})`).toBe(0);
  expect(s.ledger.trained + Object.values(s.ledger.dropped).reduce((a, b) => a + b, 0), "ledger terminal states = requested").toBe(s.requested);
  const dropped = Object.entries(s.dropped).filter(([k]) => k !== "staleAtLearner").reduce((n, [, v]) => n + v, 0);
  expect(s.kept + dropped - s.dropped.overflow + s.cancelled, "kept + dropped + cancelled = requested").toBe(s.requested);
  expect(s.trained + s.dropped.staleAtLearner + s.unused, "trained + staleAtLearner + unused = kept").toBe(s.kept - s.dropped.overflow);
}

export interface Fault {
  at: number;
  step: number;
  actor: string;
  pid: number;
  signal: NodeJS.Signals;
}

/** A seeded choice among `items`. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng.float() * items.length)];
}

export function rngFor(name: string): Rng {
  let h = SEED >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return createRng(h);
}

/**
 * SIGKILLs actors of the given kinds at seeded random moments while the run trains: each fault has a
 * seeded target step in [firstStep, lastStep - 2) and fires a seeded random delay (< gapMs) after the learner
 * reaches it, so faults spread over the run instead of piling up while one victim restarts; never after the
 * last step (the wind-down is not a fault window). Kinds are hit in a seeded order, each once before any
 * twice. Use as the run's `onStep` hook; `stop()` when the run returns.
 */
export class KillSchedule {
  readonly faults: Fault[] = [];
  private timer: NodeJS.Timeout | null = null;
  private run: RunningRun | null = null;
  private step = 0;
  private done = false;
  private readonly order: string[];
  private readonly targets: number[];

  constructor(
    private readonly rng: Rng,
    private readonly opts: { kinds: readonly string[]; kills: number; gapMs: number; lastStep: number; firstStep?: number },
  ) {
    this.order = [...opts.kinds];
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.float() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
    }
    const first = opts.firstStep ?? 1;
    // Targets stop a third of the run short of the end (at least three steps): a fault fired late must still
    // land inside training, and under load one tick of the controller's loop (where onStep runs) can span
    // several steps of a pipelined run.
    const span = Math.max(1, opts.lastStep - Math.max(2, Math.ceil(opts.lastStep / 3)) - first);
    this.targets = Array.from({ length: opts.kills }, () => first + Math.floor(rng.float() * span)).sort((a, b) => a - b);
  }

  readonly onStep = (step: number, run: RunningRun): void => {
    this.run = run;
    this.step = step;
    if (step >= this.opts.lastStep) {
      // A learner replaying after its restart can jump past several targets in one tick of the controller's
      // loop: kills still owed fire now, while the run winds down (the sampler and verifier still drain),
      // rather than not at all.
      while (!this.done && this.faults.length < this.opts.kills && this.killNext()) {}
      this.stop();
    } else this.armIfDue();
  };

  /** Kills one actor of the next kind in the order; false when none of that kind is running. */
  private killNext(): boolean {
    const kind = this.order[this.faults.length % this.order.length];
    const candidates = this.run!.agent.list().filter((a) => a.kind === kind && a.pid > 0);
    if (candidates.length === 0) return false;
    const victim = pick(this.rng, candidates);
    process.kill(victim.pid, "SIGKILL");
    this.faults.push({ at: Date.now(), step: this.step, actor: victim.name, pid: victim.pid, signal: "SIGKILL" });
    return true;
  }

  private armIfDue(): void {
    if (this.done || this.timer || this.faults.length >= this.opts.kills) return;
    if (this.targets[this.faults.length] > this.step) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.done || !this.run) return;
      this.killNext();
      // Several targets may already be behind the learner (or the victim was mid-restart): go on.
      this.armIfDue();
    }, this.rng.float() * this.opts.gapMs);
  }

  stop(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The counts a scenario reports (docs/RELIABILITY.md quotes them). */
export function countsOf(s: Summary) {
  const { requested, kept, trained, unused, cancelled, duplicates, duplicatesSuppressed, lost, restarts, dropped } = s;
  return { requested, kept, trained, unused, cancelled, duplicates, duplicatesSuppressed, lost, restarts, dropped };
}
