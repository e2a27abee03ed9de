// Watches a training run from inside it: `train()`'s onStep hook samples, at every new learner step, the
// wall clock and the actors' own Status counters (each rollout actor's generateSeconds / syncSeconds /
// tokens, the learner's busySeconds). Both counters include the work in progress, so a difference between
// two samples is exactly the time spent in that interval. bench/pipeline.ts turns the samples into
// utilisation and time-to-target figures.
import { actorHandle, type ActorHandle } from "@lspo/actors";
import { STREAMS, connectBus, jetstreamManager, type NatsConnection } from "@lspo/bus";
import type { RunningRun } from "@lspo/controller";
import { LearnerServiceService, RolloutServiceService } from "@lspo/proto";

export interface RolloutCounters {
  generateSeconds: number;
  syncSeconds: number;
  tokens: number;
}

export interface Sample {
  step: number;
  /** Date.now() when the step was seen (the controller runs in this process, so metrics.jsonl times compare). */
  t: number;
  rollout: Record<string, RolloutCounters>;
  learnerBusySeconds: number;
}

/**
 * Polled every POLL_MS from the first step on, beside the samples: whether the rollout actors had any
 * prompt queued or in hand (the prompts consumer's pending + unacked), and how long the learner takes to
 * answer Status (the controller asks it every tick to decide whether to feed prompts).
 */
export interface Poll {
  t: number;
  promptsQueued: number;
  learnerStatusMs: number;
}
const POLL_MS = 100;

export class RunProbe {
  readonly samples: Sample[] = [];
  readonly polls: Poll[] = [];
  private readonly rollouts = new Map<string, ActorHandle<typeof RolloutServiceService>>();
  private learner: ActorHandle<typeof LearnerServiceService> | null = null;
  private poller: { nc: NatsConnection; stop: boolean; done: Promise<void> } | null = null;

  /** The onStep hook: one sample per new step. */
  readonly onStep = async (step: number, run: RunningRun): Promise<void> => {
    if (!this.poller) await this.startPolling(run);
    const t = Date.now();
    const names = run.agent.list().filter((a) => a.kind === "rollout").map((a) => a.name);
    for (const n of names) if (!this.rollouts.has(n)) this.rollouts.set(n, actorHandle(run.registry, RolloutServiceService, n));
    this.learner ??= actorHandle(run.registry, LearnerServiceService, "learner");
    const rollout: Record<string, RolloutCounters> = {};
    await Promise.all(
      names.map(async (n) => {
        const c = (await this.rollouts.get(n)!.call.status({})).status!.counters as Partial<RolloutCounters>;
        rollout[n] = { generateSeconds: c.generateSeconds ?? 0, syncSeconds: c.syncSeconds ?? 0, tokens: c.tokens ?? 0 };
      }),
    );
    const l = (await this.learner.call.status({})).status!.counters as { busySeconds?: number };
    this.samples.push({ step, t, rollout, learnerBusySeconds: l.busySeconds ?? 0 });
  };

  private async startPolling(run: RunningRun): Promise<void> {
    const nc = await connectBus({ url: run.natsUrl, name: "bench-run-probe" });
    const jsm = await jetstreamManager(nc);
    const learner = actorHandle(run.registry, LearnerServiceService, "learner");
    const durable = `rollout-${run.config.run.name}`;
    const poller = { nc, stop: false, done: Promise.resolve() };
    poller.done = (async () => {
      while (!poller.stop) {
        const t = Date.now();
        const info = await jsm.consumers.info(STREAMS.prompts.name, durable).catch(() => null);
        const s0 = performance.now();
        const answered = await learner.call.status({}).then(() => true, () => false);
        const learnerStatusMs = performance.now() - s0;
        if (info && answered) this.polls.push({ t, promptsQueued: info.num_pending + info.num_ack_pending, learnerStatusMs });
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      learner.close();
    })();
    this.poller = poller;
  }

  async close(): Promise<void> {
    if (this.poller) {
      this.poller.stop = true;
      await this.poller.done;
      await this.poller.nc.close();
    }
    for (const h of this.rollouts.values()) h.close();
    this.learner?.close();
  }
}

/** Fraction of polls in [from, to] (Date.now() times) at which no prompt was queued or in hand. */
export function starvedFraction(polls: readonly Poll[], from: number, to: number, exclude: readonly Interval[]): number {
  const inside = polls.filter((p) => p.t >= from && p.t <= to && !exclude.some((e) => p.t >= e.start && p.t <= e.end));
  if (inside.length === 0) throw new Error("starvedFraction: no polls in the window");
  return inside.filter((p) => p.promptsQueued === 0).length / inside.length;
}

export interface Interval {
  start: number;
  end: number;
}

export interface Utilisation {
  /** Wall seconds the figures cover (intervals overlapping an evaluation left out). */
  seconds: number;
  /** Mean over rollout actors of the fraction of that time spent generating. */
  rolloutGenerating: number;
  /** ... and loading new weights before a generation. */
  rolloutSyncing: number;
  /** Fraction of that time the learner had no batch to work on. */
  learnerIdle: number;
  learnerIdleSeconds: number;
}

/**
 * Busy fractions over consecutive samples from `fromStep` on, leaving out every interval that overlaps one
 * of `exclude` (held-out evaluations: the actors serve them outside the stream, and the controller feeds
 * no prompts meanwhile). Only actors present in both samples of an interval count.
 */
export function utilisation(samples: readonly Sample[], fromStep: number, exclude: readonly Interval[]): Utilisation {
  let seconds = 0;
  let actorSeconds = 0;
  let generating = 0;
  let syncing = 0;
  let learnerBusy = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (a.step < fromStep) continue;
    if (exclude.some((e) => e.start < b.t && e.end > a.t)) continue;
    const dt = (b.t - a.t) / 1000;
    seconds += dt;
    learnerBusy += b.learnerBusySeconds - a.learnerBusySeconds;
    for (const [name, cb] of Object.entries(b.rollout)) {
      const ca = a.rollout[name];
      if (!ca) continue;
      actorSeconds += dt;
      generating += cb.generateSeconds - ca.generateSeconds;
      syncing += cb.syncSeconds - ca.syncSeconds;
    }
  }
  if (seconds === 0 || actorSeconds === 0) throw new Error(`utilisation: no interval from step ${fromStep} on outside the evaluations (${samples.length} samples)`);
  return {
    seconds,
    rolloutGenerating: generating / actorSeconds,
    rolloutSyncing: syncing / actorSeconds,
    learnerIdle: 1 - learnerBusy / seconds,
    learnerIdleSeconds: seconds - learnerBusy,
  };
}

/** Tokens all rollout actors have generated up to a sample. */
export const tokensAt = (s: Sample): number => Object.values(s.rollout).reduce((n, c) => n + c.tokens, 0);
