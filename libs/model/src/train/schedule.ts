// Learning-rate schedules: linear warmup, then constant or cosine decay to minLrRatio * peak.
// Step s (counted from 0) in warmup gets peak * (s + 1) / warmupSteps, so the first update is not wasted at
// lr 0 (transformers' get_*_schedule_with_warmup gives step 0 lr 0).

export interface ScheduleConfig {
  kind: "constant" | "cosine";
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  /** Cosine only: the step at which the decay reaches its floor. */
  totalSteps?: number;
  /** Cosine only: floor as a fraction of the peak (default 0). */
  minLrRatio?: number;
}

export class ScheduleError extends Error {
  override name = "ScheduleError";
}

export function checkSchedule(s: ScheduleConfig): void {
  if (!(s.lr > 0) || !Number.isFinite(s.lr)) throw new ScheduleError(`schedule.lr must be a positive number, got ${s.lr}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new ScheduleError(`schedule.warmupSteps must be an integer >= 0, got ${s.warmupSteps}`);
  if (s.kind === "cosine") {
    if (!Number.isInteger(s.totalSteps) || (s.totalSteps ?? 0) <= s.warmupSteps) {
      throw new ScheduleError(`schedule.totalSteps must be an integer > warmupSteps (${s.warmupSteps}) for cosine, got ${s.totalSteps}`);
    }
    const r = s.minLrRatio ?? 0;
    if (!(r >= 0 && r <= 1)) throw new ScheduleError(`schedule.minLrRatio must be in [0, 1], got ${r}`);
  } else if (s.kind !== "constant") {
    throw new ScheduleError(`schedule.kind must be 'constant' or 'cosine', got '${s.kind as string}'`);
  }
}

const DECAY = {
  constant: () => 1,
  /** 0.5 * (1 + cos(pi * progress)), from 1 at the end of warmup to 0 at totalSteps, then held. */
  cosine: (s: ScheduleConfig, step: number) => {
    const span = (s.totalSteps as number) - s.warmupSteps;
    const progress = Math.min(1, (step - s.warmupSteps) / span);
    const r = s.minLrRatio ?? 0;
    return r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * progress));
  },
} satisfies Record<ScheduleConfig["kind"], (s: ScheduleConfig, step: number) => number>;

/** The learning rate of update number `step` (0-based). */
export function learningRate(s: ScheduleConfig, step: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  return s.lr * DECAY[s.kind](s, step);
}
