// Hot swap of the active algorithm. The learner asks `beginUpdate(step)` for the spec of each update; a
// swap requested at any time is validated at once but only becomes active at the next `beginUpdate`, so
// one update never mixes two algorithms. A swap replaces the whole spec (GSPO's 3e-4/4e-4 clip range
// replaces GRPO's 0.2, nothing is merged), and this state never holds optimizer state, so the optimizer's
// moments carry over untouched. Each swap that takes effect is recorded for the run's metrics.
import { SwapProtocolError } from "./errors.js";
import type { AlgorithmParams } from "./params.js";
import { type AlgorithmSpec, resolveSpec } from "./spec.js";

/** A swap that took effect at the start of update `step`. */
export interface SwapEvent {
  step: number;
  from: string;
  to: string;
  /** The complete parameters active from `step` on. */
  parameters: AlgorithmParams;
}

/** Plain JSON for checkpoints. */
export interface AlgorithmStateSnapshot {
  active: AlgorithmSpec;
  pending: AlgorithmSpec | null;
  lastStep: number | null;
  events: SwapEvent[];
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

export class AlgorithmState {
  #active: AlgorithmSpec;
  #pending: AlgorithmSpec | null = null;
  #lastStep: number | null = null;
  readonly #events: SwapEvent[] = [];

  /** `initial` is validated like any swap: `{name, params?}` with overrides. */
  constructor(initial: unknown) {
    this.#active = resolveSpec(initial);
  }

  /** The spec the current (or, before the first beginUpdate, the first) update uses. */
  get active(): AlgorithmSpec {
    return clone(this.#active);
  }

  /** The spec waiting for the next update boundary, if any. */
  get pending(): AlgorithmSpec | null {
    return this.#pending && clone(this.#pending);
  }

  /** Swap events in the order they took effect. */
  get events(): SwapEvent[] {
    return clone(this.#events);
  }

  /**
   * Validates `spec` (`{name, params?}`; throws InvalidSpecError naming the field) and queues it for the
   * next update boundary. A later request before that boundary replaces an earlier one (last wins).
   */
  requestSwap(spec: unknown): AlgorithmSpec {
    this.#pending = resolveSpec(spec);
    return clone(this.#pending);
  }

  /** Drops a queued swap; returns whether there was one. */
  cancelSwap(): boolean {
    const had = this.#pending !== null;
    this.#pending = null;
    return had;
  }

  /**
   * The update boundary: applies a queued swap (recording it at `step`) and returns the spec to use for
   * the whole of update `step`. Steps must increase strictly.
   */
  beginUpdate(step: number): AlgorithmSpec {
    if (!Number.isInteger(step) || step < 0) throw new SwapProtocolError(`beginUpdate: step must be an integer >= 0, got ${step}`);
    if (this.#lastStep !== null && step <= this.#lastStep) {
      throw new SwapProtocolError(`beginUpdate: step ${step} does not follow the previous update step ${this.#lastStep}`);
    }
    this.#lastStep = step;
    if (this.#pending !== null) {
      const to = this.#pending;
      this.#events.push({ step, from: this.#active.name, to: to.name, parameters: clone(to.params) });
      this.#active = to;
      this.#pending = null;
    }
    return clone(this.#active);
  }

  snapshot(): AlgorithmStateSnapshot {
    return clone({ active: this.#active, pending: this.#pending, lastStep: this.#lastStep, events: this.#events });
  }

  /** Rebuilds from a snapshot, re-validating its specs (a checkpoint from an older build may not parse). */
  static restore(snap: AlgorithmStateSnapshot): AlgorithmState {
    if (!Array.isArray(snap.events)) throw new SwapProtocolError("restore: snapshot.events must be an array of swap events");
    const state = new AlgorithmState(snap.active);
    if (snap.pending !== null) state.requestSwap(snap.pending);
    if (snap.lastStep !== null && (!Number.isInteger(snap.lastStep) || snap.lastStep < 0)) {
      throw new SwapProtocolError(`restore: lastStep must be an integer >= 0 or null, got ${snap.lastStep}`);
    }
    state.#lastStep = snap.lastStep;
    state.#events.push(...clone(snap.events));
    return state;
  }
}
