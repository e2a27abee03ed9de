// A reader's live picture of one run's registry, kept current by a KV watch on `<runId>.>`. Liveness is
// judged from the reader's own monotonic clock: an entry is live when a new revision of its key arrived
// here within STALE_AFTER_MS. The writer's clock (heartbeatAt) is never compared with ours, so hosts
// whose clocks disagree by seconds still agree on who is alive.
import { performance } from "node:perf_hooks";
import { KV_BUCKETS, decodeEnvelope, jetstreamManager, type NatsConnection } from "@lspo/bus";
import type { ActorRecord, NodeRecord } from "@lspo/proto";
import type { KV, KvWatchEntry } from "@nats-io/kv";
import { parseKey } from "./registry-keys.js";

export const HEARTBEAT_MS = 2000;
/** Three missed heartbeats: a replica is skipped by handles after this much silence. */
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

export interface ViewEntry<T> {
  key: string;
  /** Who may write the key: an actor's kind, a node agent's identity (registry-keys.ts). */
  owner: string;
  record: T;
  revision: number;
  /** performance.now() on this reader when this revision arrived (or when the watch started, for records
   *  found already there: one grace period). */
  arrivedAt: number;
}

type Listener = () => void;

export class RegistryView {
  // Keyed by `<owner>.<name>`: a record another identity wrote under its own keys never replaces one.
  private readonly actorEntries = new Map<string, ViewEntry<ActorRecord>>();
  private readonly nodeEntries = new Map<string, ViewEntry<NodeRecord>>();
  private readonly listeners = new Set<Listener>();
  private iter: Awaited<ReturnType<KV["watch"]>> | null = null;
  private closed = false;
  private restarting: Promise<void> | null = null;
  private readyResolve!: () => void;
  /** Resolves once the records present at the first watch start are in. */
  readonly ready: Promise<void>;
  /** performance.now() when the current watch was established: silence before it is the view's, not the
   *  writer's (a NATS outage must not read as every node dying). */
  healthySince = performance.now();
  /** The newest revision the watch has delivered, whatever the entry (a skipped one too): the watch delivers in
   *  revision order, so every write of the run up to it is in. */
  private delivered = 0;

  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    readonly runId: string,
  ) {
    this.ready = new Promise((r) => (this.readyResolve = r));
  }

  static async start(kv: KV, nc: NatsConnection, runId: string): Promise<RegistryView> {
    const view = new RegistryView(kv, nc, runId);
    void view.followConnection().catch(() => undefined); // the connection closed: nothing left to follow
    await view.watch();
    return view;
  }

  /** Every actor record of the run, live or not, sorted by name. */
  actors(): ViewEntry<ActorRecord>[] {
    return [...this.actorEntries.values()].sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  nodes(): ViewEntry<NodeRecord>[] {
    return [...this.nodeEntries.values()].sort((a, b) => a.record.node.localeCompare(b.record.node));
  }

  /** The actor of that kind and name. */
  actor(kind: string, name: string): ViewEntry<ActorRecord> | undefined {
    return this.actorEntries.get(`${kind}.${name}`);
  }

  /** The records of agents named `name`, one per identity that wrote one (normally one). */
  nodesNamed(name: string): ViewEntry<NodeRecord>[] {
    return this.nodes().filter((e) => e.record.node === name);
  }

  /** Whether an entry's latest revision arrived within `staleAfterMs` of `now` (this reader's clock). */
  isLive(entry: { arrivedAt: number }, now = performance.now(), staleAfterMs = STALE_AFTER_MS): boolean {
    return now - entry.arrivedAt <= staleAfterMs;
  }

  /** Resolves true once the watch has delivered revision `revision`, false after `timeoutMs` without it. */
  async seen(revision: number, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (this.delivered < revision) {
      if (this.closed || performance.now() > end) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  /** Called after every applied change (put, delete, purge). Returns the unsubscribe function. */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed = true;
    this.iter?.stop();
    this.readyResolve();
  }

  private async watch(): Promise<void> {
    const startedAt = performance.now();
    const iter = await this.kv.watch({ key: `${this.runId}.>` });
    this.iter = iter;
    this.healthySince = startedAt;
    // Nothing pending: the snapshot is (trivially) complete. Otherwise the entry with no more pending ends it.
    const pending = await this.pendingKeys().catch(() => 0);
    if (pending === 0) this.readyResolve();
    const fallback = setTimeout(() => this.readyResolve(), 2000);
    fallback.unref();
    void (async () => {
      // Arrived now only once the watch has caught up: nats.js marks the last entry of the initial values as an
      // update too (it counts it as the one that reaches num_pending), which made a record written once, long
      // ago, look freshly renewed whenever it was the newest key of the run.
      let caughtUp = pending === 0;
      try {
        for await (const e of iter) {
          this.apply(e, caughtUp ? performance.now() : startedAt);
          if (e.delta === 0) {
            caughtUp = true;
            this.readyResolve();
          }
        }
      } catch {
        // The iterator failed (NATS away): re-established below.
      }
      if (this.iter === iter) this.restart();
    })();
  }

  /** Keys of this run in the bucket now (delete markers included: the watch delivers them too). */
  private async pendingKeys(): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    const bucket = KV_BUCKETS.actors;
    const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `$KV.${bucket}.${this.runId}.>` });
    return Object.keys(info.state.subjects ?? {}).length;
  }

  private apply(e: KvWatchEntry, arrivedAt: number): void {
    this.delivered = Math.max(this.delivered, e.revision);
    const k = parseKey(this.runId, e.key);
    if (!k) return;
    const map = (k.type === "actor" ? this.actorEntries : this.nodeEntries) as Map<string, ViewEntry<unknown>>;
    const id = `${k.owner}.${k.id}`;
    if (e.operation !== "PUT" || e.value.byteLength === 0) {
      map.delete(id);
    } else {
      const known = map.get(id);
      // A re-watch delivers the latest revision again: it is not news, so the arrival time stays.
      if (known && known.revision >= e.revision) return;
      try {
        const record = decodeEnvelope(e.value, k.type === "actor" ? "ActorRecord" : "NodeRecord").body as ActorRecord & NodeRecord;
        // The key decides what a record is: one whose body names another kind, actor or node is forged
        // (or corrupt) and skipped.
        if (k.type === "actor" ? record.kind !== k.owner || record.name !== k.id : record.node !== k.id) return;
        map.set(id, { key: e.key, owner: k.owner, record, revision: e.revision, arrivedAt });
      } catch {
        return; // a malformed record is skipped, never fatal to the view
      }
    }
    for (const fn of this.listeners) fn();
  }

  /** Re-establishes the watch (after the iterator ended or NATS reconnected), retrying until it holds. */
  private restart(): void {
    if (this.closed || this.restarting) return;
    this.restarting = (async () => {
      const old = this.iter;
      this.iter = null;
      old?.stop();
      for (let delay = 100; !this.closed; delay = Math.min(delay * 2, 2000)) {
        try {
          await this.watch();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })().finally(() => (this.restarting = null));
  }

  private async followConnection(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.closed) return;
      // A server restart or leader change may leave the consumer behind the watch gone: start a new one.
      if (s.type === "reconnect") this.restart();
    }
  }
}
