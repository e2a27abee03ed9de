// The actor registry lives in NATS KV (bucket `lspo-actors`), scoped by run: `<runId>.actor.<name>` ->
// ActorRecord, `<runId>.node.<node>` -> NodeRecord. Every live writer re-puts its record within
// HEARTBEAT_MS; the bucket's max age (RECORD_TTL_MS) lets the server drop records of writers that died
// without cleanup. Readers judge liveness from a RegistryView (their own clock), never from heartbeatAt.
import { KV_BUCKETS, encodeEnvelope, isPermissionError, jetstreamManager, kvGet, openKv, retryOnTimeout, type NatsConnection } from "@lspo/bus";
import { ComponentState, type ActorRecord, type NodeRecord } from "@lspo/proto";
import type { KV } from "@nats-io/kv";
import { actorKey, checkActorName, checkIdentityToken, checkNodeName, checkRunId, nodeKey } from "./registry-keys.js";
import { RegistryView, type ViewEntry } from "./registry-view.js";

export { HEARTBEAT_MS, STALE_AFTER_MS } from "./registry-view.js";

/** Server-side expiry of every record: far above HEARTBEAT_MS (a live writer always refreshes in time),
 *  short enough that a dead run's records do not linger for long. */
export const RECORD_TTL_MS = 30_000;

export interface RegistryOptions {
  /** The run: only its records are read and written. */
  runId: string;
  /** Bucket replicas (config.nats.replicas): 3 on a 3-server NATS so the registry survives one loss.
   *  Unset: an existing bucket keeps its replicas (a new one gets 1). */
  replicas?: number;
  /** Who writes this process's node records (`<runId>.node.<identity>.<node>`): its NATS user, which the
   *  shipped permissions let write only such keys. Default "any" (a NATS without per-identity users). */
  identity?: string;
}

/** The token an actor record's key carries for its kind (what the registry permissions check). */
const kindOf = (record: { kind: string }) => checkIdentityToken(record.kind, "actor kind");

export class ActorRegistry {
  private viewing: Promise<RegistryView> | null = null;

  private constructor(
    readonly kv: KV,
    private readonly nc: NatsConnection,
    readonly runId: string,
    readonly identity: string,
  ) {}

  static async open(nc: NatsConnection, opts: RegistryOptions): Promise<ActorRegistry> {
    if (!opts || typeof opts !== "object") throw new Error("ActorRegistry.open(nc, { runId, replicas }): options are required (the run id scopes every key)");
    const runId = checkRunId(opts.runId, "ActorRegistry.open: runId");
    // Replicas unset (a CLI reading the registry): create with 1 if missing, never change an existing bucket's.
    const kv = await openKv(nc, KV_BUCKETS.actors, { replicas: opts.replicas ?? 1 });
    await ensureBucketSettings(nc, opts.replicas);
    return new ActorRegistry(kv, nc, runId, checkIdentityToken(opts.identity || "any", "ActorRegistry.open: identity"));
  }

  private encode(kind: "ActorRecord" | "NodeRecord", body: ActorRecord | NodeRecord): Uint8Array {
    return encodeEnvelope(kind, { ...body, runId: this.runId, heartbeatAt: new Date() });
  }

  async putActor(record: ActorRecord): Promise<number> {
    return this.kv.put(actorKey(this.runId, kindOf(record), checkActorName(record.name)), this.encode("ActorRecord", record));
  }

  /** Claims an actor's name for the whole run (atomic create): its revision, or null when the name is
   *  held already (by any agent of the run). */
  async claimActor(record: ActorRecord): Promise<number | null> {
    try {
      return await this.kv.create(actorKey(this.runId, kindOf(record), checkActorName(record.name)), this.encode("ActorRecord", record));
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  /** Puts only when the key is still at `revision` (compare-and-set): the new revision, or null when
   *  someone wrote (or deleted) since. */
  async updateActor(record: ActorRecord, revision: number): Promise<number | null> {
    try {
      return await this.kv.update(actorKey(this.runId, kindOf(record), checkActorName(record.name)), this.encode("ActorRecord", record), revision);
    } catch (err) {
      if (isWrongLastSequence(err)) return null;
      throw err;
    }
  }

  async getActor(kind: string, name: string): Promise<{ record: ActorRecord; revision: number } | null> {
    const e = await kvGet<ActorRecord>(this.kv, actorKey(this.runId, kindOf({ kind }), checkActorName(name)), "ActorRecord");
    return e ? { record: e.value, revision: e.revision } : null;
  }

  async removeActor(kind: string, name: string): Promise<void> {
    await this.kv.delete(actorKey(this.runId, kindOf({ kind }), checkActorName(name)));
  }

  async putNode(record: NodeRecord): Promise<number> {
    return this.kv.put(nodeKey(this.runId, this.identity, checkNodeName(record.node)), this.encode("NodeRecord", record));
  }

  async removeNode(node: string): Promise<void> {
    await this.kv.delete(nodeKey(this.runId, this.identity, checkNodeName(node)));
  }

  /** The run's live view (one per registry, shared by every handle on it; started on first use). */
  view(): Promise<RegistryView> {
    this.viewing ??= RegistryView.start(this.kv, this.nc, this.runId).then(async (v) => {
      await v.ready;
      return v;
    });
    return this.viewing;
  }

  /**
   * Waits, at most `timeoutMs`, until the view holds every record the bucket holds now: its watch can trail a
   * write by a moment. For a reader that must see what an agent wrote before it answered a call (a controller
   * that has fenced the agents, then looks for an earlier controller's actors). Whether it caught up.
   */
  async caughtUp(timeoutMs = 5000): Promise<boolean> {
    const view = await this.view();
    let newest = 0;
    for await (const key of await this.kv.keys(`${this.runId}.>`)) {
      const e = await this.kv.get(key);
      if (e) newest = Math.max(newest, e.revision);
    }
    return view.seen(newest, timeoutMs);
  }

  /** Every actor record of the run (live or not), from the view: no listing of the bucket. */
  async listActors(): Promise<ActorRecord[]> {
    return (await this.view()).actors().map((e) => e.record);
  }

  /** Node agents of the run whose records arrived recently (this reader's clock). */
  async liveNodes(): Promise<ViewEntry<NodeRecord>[]> {
    const view = await this.view();
    return view.nodes().filter((e) => view.isLive(e));
  }

  async listNodes(): Promise<NodeRecord[]> {
    return (await this.view()).nodes().map((e) => e.record);
  }

  /** Running, live replicas answering to `target`: an exact actor name, or an exact kind (of `kind` only,
   *  when given: a handle to a learner service never calls another kind's actor of the same name). */
  async resolve(target: string, kind?: string): Promise<ActorRecord[]> {
    return resolveIn(await this.view(), target, undefined, kind);
  }

  close(): void {
    void this.viewing?.then((v) => v.close());
  }
}

/** JetStream's answer to a create/update whose expected revision no longer holds (10071). */
function isWrongLastSequence(err: unknown): boolean {
  return (err as { code?: number }).code === 10071 || /wrong last sequence|key exists/i.test((err as Error).message ?? "");
}

export function resolveIn(view: RegistryView, target: string, now?: number, kind?: string): ActorRecord[] {
  return view
    .actors()
    .filter(
      (e) =>
        (e.record.name === target || e.record.kind === target) &&
        (kind === undefined || e.owner === kind) &&
        e.record.state === ComponentState.COMPONENT_STATE_RUNNING &&
        e.record.grpcAddress !== "" &&
        view.isLive(e, now),
    )
    .map((e) => e.record);
}

/** Brings an existing bucket to the asked replicas and the record TTL (NATS updates both in place where it
 *  can: replicas only on a cluster). A refusal names what was asked. */
async function ensureBucketSettings(nc: NatsConnection, asked: number | undefined): Promise<void> {
  // Several agents start at once on a loaded cluster: an update may time out although it landed, so each
  // try reads the bucket's settings again.
  await retryOnTimeout(() => ensureBucketSettingsOnce(nc, asked), `registry bucket ${KV_BUCKETS.actors}`);
}

async function ensureBucketSettingsOnce(nc: NatsConnection, asked: number | undefined): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const name = `KV_${KV_BUCKETS.actors}`;
  const info = await jsm.streams.info(name);
  const replicas = asked ?? info.config.num_replicas;
  const maxAge = RECORD_TTL_MS * 1_000_000;
  if (info.config.num_replicas === replicas && info.config.max_age === maxAge) return;
  try {
    // The server refuses a duplicates window longer than the max age (the default is 2 minutes).
    const duplicateWindow = Math.min(info.config.duplicate_window || maxAge, maxAge);
    await jsm.streams.update(name, { ...info.config, num_replicas: replicas, max_age: maxAge, duplicate_window: duplicateWindow });
  } catch (err) {
    if ((err as Error).name === "TimeoutError") throw err; // retried by ensureBucketSettings
    // Under the shipped per-identity permissions only the controller changes buckets; it sets these too.
    if (isPermissionError(err)) return;
    throw new Error(
      `registry bucket ${KV_BUCKETS.actors}: could not set replicas ${replicas} (has ${info.config.num_replicas}) and max age ${RECORD_TTL_MS} ms: ${(err as Error).message}`,
    );
  }
}
