// The training batch being filled: kept groups in arrival order, emitted B at a time.
import type { Group } from "./group.js";
import type { Thresholds } from "./quantile.js";
import type { OverflowPolicy } from "./config.js";

/** Exactly B groups for one learner update. */
export interface TrainingBatch {
  /** 0-based count of batches emitted before this one. */
  readonly index: number;
  readonly uids: readonly string[];
  readonly groups: readonly Group[];
  /** The thresholds in force when the batch filled (batch mode: those of the generation batch that filled it). */
  readonly thresholds: Thresholds | null;
}

export interface PendingState {
  readonly pending: readonly Group[];
  readonly nextBatchIndex: number;
  readonly groupsEmitted: number;
  readonly discardedOverflow: number;
}

export class PendingBatch {
  groups: Group[];
  nextIndex: number;
  groupsEmitted: number;
  /** Kept groups dropped because they arrived in the same generation batch after the B-th (overflow: discard). */
  discarded: number;

  constructor(
    readonly batchSize: number,
    state?: PendingState,
  ) {
    this.groups = state ? state.pending.slice() : [];
    this.nextIndex = state?.nextBatchIndex ?? 0;
    this.groupsEmitted = state?.groupsEmitted ?? 0;
    this.discarded = state?.discardedOverflow ?? 0;
  }

  /** One kept group; returns the batch it completed, if any. */
  push(g: Group, thresholds: () => Thresholds | null): TrainingBatch | null {
    this.groups.push(g);
    return this.groups.length === this.batchSize ? this.emit(thresholds()) : null;
  }

  /**
   * The kept groups of one generation batch, in arrival order. When the pending list reaches B, the first
   * B are emitted; the rest either start the next batch (carry) or are dropped with it (discard, the paper).
   */
  append(kept: readonly Group[], overflow: OverflowPolicy, thresholds: () => Thresholds | null): TrainingBatch[] {
    for (const g of kept) this.groups.push(g);
    const out: TrainingBatch[] = [];
    while (this.groups.length >= this.batchSize) {
      out.push(this.emit(thresholds()));
      if (overflow === "discard") {
        this.discarded += this.groups.length;
        this.groups = [];
      }
    }
    return out;
  }

  private emit(thresholds: Thresholds | null): TrainingBatch {
    const groups = this.groups.slice(0, this.batchSize);
    this.groups = this.groups.slice(this.batchSize);
    this.groupsEmitted += groups.length;
    return { index: this.nextIndex++, uids: groups.map((g) => g.uid), groups, thresholds };
  }

  state(): { pending: Group[]; nextBatchIndex: number; groupsEmitted: number; discardedOverflow: number } {
    return { pending: this.groups.slice(), nextBatchIndex: this.nextIndex, groupsEmitted: this.groupsEmitted, discardedOverflow: this.discarded };
  }
}
