// The verified groups the sampler gives up on, by stream sequence, in its KV bucket (it may restart on another
// host). Two kinds of key under the run:
// - `<run>.judge-failures.<seq>`: how many judgements of the group threw. The sampler counts them itself: the
//   server's delivery count also counts deliveries no judgement saw (one that died with its incarnation, or
//   waited in a stopping pull's buffer), so at its limit the server stopped delivering a group nobody had
//   judged to the end, and a group judged again in a replay was never acked (its ack floor stuck there).
//   The sampler's consumer has no delivery limit; bus.maxDeliver bounds the failures counted here.
// - `<run>.dead-lettered.<seq>`: the group was dead-lettered (it stays on LSPO_VERIFIED, whole); the replay
//   of the unacked tail skips it, and its delivery, when it comes back, is acked unjudged.
// Keys at or below the consumer's ack floor are never needed again (nothing there is delivered or replayed)
// and are deleted at the next start.
import { retryTransient, type openKv } from "@lspo/bus";

type KV = Awaited<ReturnType<typeof openKv>>;

export class GivenUp {
  private readonly marked = new Set<number>();

  constructor(
    private readonly kv: KV,
    private readonly runId: string,
  ) {}

  private key(kind: "judge-failures" | "dead-lettered", seq: number): string {
    return `${this.runId}.${kind}.${seq}`;
  }

  /** Reads the marks above `floor` and deletes every key at or below it. */
  async load(floor: number): Promise<void> {
    this.marked.clear();
    for (const kind of ["judge-failures", "dead-lettered"] as const) {
      const prefix = `${this.runId}.${kind}.`;
      for await (const key of await this.kv.keys(`${prefix}*`)) {
        const seq = Number(key.slice(prefix.length));
        if (!(seq > floor)) await this.kv.delete(key).catch(() => undefined);
        else if (kind === "dead-lettered") this.marked.add(seq);
      }
    }
  }

  /** Whether the group at `seq` was dead-lettered (marked). */
  has(seq: number): boolean {
    return this.marked.has(seq);
  }

  /** The marked sequences above the floor `load` was given. */
  get sequences(): ReadonlySet<number> {
    return this.marked;
  }

  /** Counts one judgement of the group at `seq` that threw; the failures counted so far, this one included. */
  async failed(seq: number): Promise<number> {
    const key = this.key("judge-failures", seq);
    const entry = await retryTransient(() => this.kv.get(key));
    const before = entry?.operation === "PUT" ? Number(entry.string()) : 0;
    const n = (Number.isSafeInteger(before) && before > 0 ? before : 0) + 1;
    await retryTransient(() => this.kv.put(key, String(n)));
    return n;
  }

  /** Marks the group at `seq` dead-lettered (throws when KV refuses: the caller deletes the message instead). */
  async mark(seq: number): Promise<void> {
    await retryTransient(() => this.kv.put(this.key("dead-lettered", seq), String(seq)));
    this.marked.add(seq);
  }
}
