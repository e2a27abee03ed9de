// One at a time: the calls a service must not interleave (a sampler's judgements, snapshots and config changes;
// a rollout actor's generations; a learner's updates and checkpoints) each start once the call before them
// settled. A call that fails does not stop the ones after it; its caller gets the rejection.
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every call queued before it has settled: its result or rejection. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(() => fn());
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every call queued so far has settled (a stopping service waits for the one in hand). */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}
