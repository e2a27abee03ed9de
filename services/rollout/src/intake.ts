// Prompts taken from the stream and not yet given to a batch: the continuous mode's (stream.ts) buffer between
// the subscription and the decoder. It reads ahead only while fewer than `hold` wait (rollout.promptsPerCall),
// so an actor busy decoding leaves the stream's other prompts to the other actors.
import type { Delivery } from "@lspo/bus";

export class Intake<T> {
  private readonly waiting: Delivery<T>[] = [];
  private reading = false;
  private done = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly source: AsyncIterator<Delivery<T>>,
    private readonly hold: number,
  ) {
    this.read();
  }

  /** Deliveries waiting. */
  get size(): number {
    return this.waiting.length;
  }

  /** The deliveries waiting, oldest first (to keep their ack deadlines alive). */
  held(): readonly Delivery<T>[] {
    return this.waiting;
  }

  /** The oldest waiting delivery, if any; reading resumes below `hold`. */
  take(): Delivery<T> | undefined {
    const d = this.waiting.shift();
    this.read();
    return d;
  }

  /**
   * Settles once a delivery waits or the subscription has ended; rejects with the subscription's error. One
   * caller at a time (the loop that owns the intake).
   */
  async arrival(): Promise<void> {
    while (!this.waiting.length && !this.done) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.failed) throw this.failed;
  }

  private read(): void {
    if (this.reading || this.done || this.failed || this.waiting.length >= this.hold) return;
    this.reading = true;
    this.source.next().then(
      (r) => {
        this.reading = false;
        if (r.done) this.done = true;
        else this.waiting.push(r.value);
        this.notify();
        this.read();
      },
      (err: unknown) => {
        this.reading = false;
        this.failed = err instanceof Error ? err : new Error(String(err));
        this.notify();
      },
    );
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
