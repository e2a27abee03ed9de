// The buffers a finished generation's host KV cache leaves for the next generation on the same decoder.
// A fresh buffer costs its pages on first touch: on the CI machine (a VM) touching 293 MB, the cache of the
// 25M model at batch 64 and 320 steps, took 0.8 s, as long as 30 of that batch's decode steps. A rollout actor
// generates again and again at the same shapes, so it pays that once instead of per call.
// The pool keeps what the last released cache gave it and nothing older: at most one cache's worth is held
// between generations.
export class KvBufferPool {
  private spare: ArrayBuffer[] = [];

  /** A spare buffer of at least `floats` numbers (the smallest such), whole and not cleared; null if none. */
  take(floats: number): Float32Array | null {
    let best = -1;
    this.spare.forEach((b, i) => {
      if (b.byteLength >= floats * 4 && (best < 0 || b.byteLength < this.spare[best].byteLength)) best = i;
    });
    if (best < 0) return null;
    const [buffer] = this.spare.splice(best, 1);
    return new Float32Array(buffer);
  }

  /** Keeps `buffers` (each once) for the next take, dropping what was kept before. */
  give(buffers: readonly ArrayBuffer[]): void {
    this.spare = [...new Set(buffers)];
  }

  /** Bytes held for the next generation. */
  get bytes(): number {
    return this.spare.reduce((n, b) => n + b.byteLength, 0);
  }
}
