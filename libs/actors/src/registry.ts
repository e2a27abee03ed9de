// The actor registry lives in NATS KV (bucket `lspo-actors`): `actor.<name>` -> ActorRecord,
// `node.<name>` -> NodeRecord. Records carry a heartbeat time; readers treat a record whose heartbeat is
// older than `staleAfterMs` as not running, so a crashed process stops receiving calls without cleanup.
import { KV_BUCKETS, kvGet, kvPut, openKv, retryTransient, type NatsConnection } from "@lspo/bus";
import { ComponentState, type ActorRecord, type NodeRecord } from "@lspo/proto";
import type { KV } from "@nats-io/kv";

export const HEARTBEAT_MS = 2000;
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

export class ActorRegistry {
  private constructor(readonly kv: KV) {}

  static async open(nc: NatsConnection, replicas = 1): Promise<ActorRegistry> {
    return new ActorRegistry(await openKv(nc, KV_BUCKETS.actors, { replicas }));
  }

  async putActor(record: ActorRecord): Promise<void> {
    await kvPut(this.kv, `actor.${record.name}`, "ActorRecord", { ...record, heartbeatAt: new Date() });
  }

  async getActor(name: string): Promise<ActorRecord | null> {
    return (await kvGet<ActorRecord>(this.kv, `actor.${name}`, "ActorRecord"))?.value ?? null;
  }

  async removeActor(name: string): Promise<void> {
    await this.kv.delete(`actor.${name}`);
  }

  async putNode(record: NodeRecord): Promise<void> {
    await kvPut(this.kv, `node.${record.node}`, "NodeRecord", { ...record, heartbeatAt: new Date() });
  }

  private async listPrefix<T>(prefix: string, kind: string): Promise<T[]> {
    // Listing keys makes a consumer: on a loaded or failing-over cluster that request can time out, and
    // one timeout must not end a caller's run.
    const keys = await retryTransient(async () => {
      const out: string[] = [];
      for await (const k of await this.kv.keys(`${prefix}.>`)) out.push(k);
      return out;
    });
    const out: T[] = [];
    for (const k of keys.sort()) {
      try {
        const e = await kvGet<T>(this.kv, k, kind);
        if (e) out.push(e.value);
      } catch {
        // A malformed record is skipped, never fatal to a listing.
      }
    }
    return out;
  }

  listActors(): Promise<ActorRecord[]> {
    return this.listPrefix<ActorRecord>("actor", "ActorRecord");
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.listPrefix<NodeRecord>("node", "NodeRecord");
  }

  /** Running actors of a group: the name itself, or `<group>-<n>` replicas; live heartbeats only. */
  async resolve(group: string, now = Date.now()): Promise<ActorRecord[]> {
    const all = await this.listActors();
    return all.filter(
      (a) =>
        (a.name === group || a.name.startsWith(`${group}-`) || a.kind === group) &&
        a.state === ComponentState.COMPONENT_STATE_RUNNING &&
        a.grpcAddress !== "" &&
        isLive(a.heartbeatAt, now),
    );
  }
}

export function isLive(heartbeatAt: Date | undefined, now = Date.now()): boolean {
  return heartbeatAt !== undefined && now - heartbeatAt.getTime() <= STALE_AFTER_MS;
}
