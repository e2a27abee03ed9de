// One controller per run. The controller holds the run's lease: a KV key (`<run>.controller` in the run's
// control bucket, beside its data cursor) that it rewrites every heartbeat by compare-and-set on its own last
// revision. A second controller of the same run (a resume started while the first still lives: a pod taken
// for lost, a second terminal) sees the key change within the stale window and refuses to start, naming the
// holder. A holder gone silent (killed) is taken over by compare-and-set once the window has passed with no
// change. A controller whose compare-and-set fails because another took the run while it was cut off stands
// down: from then on it places, stops and feeds nothing. Liveness is this reader's own observation (a revision
// that moves), never a comparison with the writer's clock, as in the actor registry.
//
// The holder fences itself the same way, by its own clock alone: it acts only while its last renewal that
// landed was sent less than `staleAfterMs - heartbeatMs` ago (`fresh`). A taker waits `staleAfterMs` from a read
// made after that renewal landed, so by the time another controller can hold the run this one has been
// refusing to act for at least a heartbeat: a controller cut off from NATS pauses instead of acting once more
// before it learns it was superseded.
//
// The take is also this controller's fencing token (libs/actors fence.ts): the revision of the write that took
// the lease, within the epoch of the lease's bucket (when its stream was created: a store lost and made anew
// starts its revisions again from 1, in a later epoch). Every node agent it fences refuses calls of an older take.
//
// A renewal that finds no record at all (a taker writes one, a release leaves a delete marker), or that fails
// while the bucket's stream is not found, means the store holding the run was lost (RunStoreLost).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { HEARTBEAT_MS, STALE_AFTER_MS } from "@lspo/actors";
import type { FencingToken } from "@lspo/proto";
import { KV_BUCKETS, decodeEnvelope, encodeEnvelope, retryTransient, type JetStreamManager, type openKv } from "@lspo/bus";

type KV = Awaited<ReturnType<typeof openKv>>;

const KIND = "ControllerLease";

/** Who holds a run: what the refusal names, so the operator can find it. */
export interface LeaseHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** This controller's own id: tells its write from another's when a reply was lost. */
  incarnation: string;
}

/** Another controller of the run is alive: this one must not start. */
export class ControllerLeaseHeld extends Error {
  override name = "ControllerLeaseHeld";
}

/** Another controller took the run while this one was cut off: this one must stop acting on it. */
export class ControllerSuperseded extends Error {
  override name = "ControllerSuperseded";
}

export interface LeaseOptions {
  /**
   * Whether the lease's KV bucket is gone (its stream not found on a server that answers): asked after a
   * renewal fails for another reason than a lost compare-and-set. Default: never asked.
   */
  bucketGone?: () => Promise<boolean>;
}

export interface LeaseTiming {
  heartbeatMs: number;
  /** How long a holder's key must stay unchanged before it is taken for gone. */
  staleAfterMs: number;
}

const DEFAULT_TIMING: LeaseTiming = { heartbeatMs: HEARTBEAT_MS, staleAfterMs: STALE_AFTER_MS + HEARTBEAT_MS / 2 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A compare-and-set that lost (the key's revision was not the one expected), as NATS words it. */
export const isCasFailure = (err: unknown) => /wrong last sequence|key exists/i.test((err as Error).message ?? "");

/** A compare-and-set that lost, as `patiently` throws it. */
export class CasFailure extends Error {}

/**
 * A KV call retried while NATS cannot answer (a server restarting, a bucket's leader moving: the cluster test
 * starts a run while a server is down), as every controller KV call is; a compare-and-set that lost is an
 * answer, thrown at once as CasFailure.
 */
export async function patiently<T>(fn: () => Promise<T>): Promise<T> {
  const r = await retryTransient(async (): Promise<{ ok: true; value: T } | { ok: false; err: Error }> => {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      if (isCasFailure(err)) return { ok: false, err: err as Error };
      throw err;
    }
  });
  if (!r.ok) throw new CasFailure(r.err.message);
  return r.value;
}

/** The holder a lease record names, or null for a record that is not one. */
function holderOf(value: Uint8Array | undefined): Partial<LeaseHolder> | null {
  try {
    return decodeEnvelope(value ?? new Uint8Array(), KIND).body as Partial<LeaseHolder>;
  } catch {
    return null;
  }
}

function describe(value: Uint8Array | undefined): string {
  const h = holderOf(value);
  return h ? `pid ${h.pid} on ${h.host}, started ${h.startedAt}` : "a holder whose lease record is unreadable";
}

/**
 * The run's lease record is gone without a trace (no record, not even a release): the NATS store that holds the
 * run was lost or wiped while the run went on (a server on an emptyDir restarted). Nothing this controller
 * does next would land where the run's state is; `lspo train --resume` goes on from the newest checkpoint.
 */
export class RunStoreLost extends Error {
  override name = "RunStoreLost";
}

/** What RunStoreLost says: which key found the store gone, how, and what to do. */
export function storeLostMessage(key: string, what: string): string {
  return `the NATS store holding ${key} was lost or wiped while the run went on (${what}); this controller stops. \`lspo train --resume <run dir>\` goes on from the newest checkpoint`;
}

/** The run's lease could not be renewed for as long as the caller would wait (NATS unreachable). */
export class ControllerLeaseUnrenewed extends Error {
  override name = "ControllerLeaseUnrenewed";
}

export class ControllerLease {
  #revision: number;
  /** When the last renewal that landed was sent (performance.now()): its send time bounds when it landed. */
  #renewSentAt: number;
  /** When the oldest renewal whose reply never came was sent: if one of them landed, it landed after this. */
  #unconfirmedSince: number | null = null;
  #lost: { error: typeof ControllerSuperseded | typeof RunStoreLost; message: string } | null = null;
  #beat: NodeJS.Timeout | null = null;
  #beating = false;
  #onLost: Array<() => void> = [];

  private constructor(
    private readonly kv: KV,
    readonly key: string,
    readonly holder: LeaseHolder,
    /** This take, as the node agents' fences order controllers (fence.ts). */
    readonly fencingToken: FencingToken,
    revision: number,
    sentAt: number,
    private readonly timing: LeaseTiming,
    private readonly options: LeaseOptions,
  ) {
    this.#revision = revision;
    this.#renewSentAt = sentAt;
    this.#beat = setInterval(() => void this.heartbeat(), timing.heartbeatMs);
    this.#beat.unref();
  }

  /**
   * Takes the run's lease: at once when nobody holds it; after the stale window when its holder stays silent
   * through it. Throws ControllerLeaseHeld when the holder is alive (or another controller takes it first).
   */
  static async acquire(kv: KV, runId: string, timing: LeaseTiming = DEFAULT_TIMING, options: LeaseOptions = {}): Promise<ControllerLease> {
    const key = `${runId}.controller`;
    const holder: LeaseHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), incarnation: randomUUID() };
    const bytes = encodeEnvelope(KIND, holder);
    const epochMs = BigInt(Date.parse((await patiently(() => kv.status())).streamInfo.created));
    // The write that takes the lease counts as its first renewal, from the moment it was sent (when a reply is
    // lost and our own record is found instead, the last write we sent is the one that landed).
    let sentAt = performance.now();
    const take = (revision: number) => new ControllerLease(kv, key, holder, { epochMs, revision: BigInt(revision) }, revision, sentAt, timing, options);
    const write = async (fn: () => Promise<number>) => {
      sentAt = performance.now();
      return take(await patiently(fn));
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await patiently(() => kv.get(key));
      try {
        if (!held || held.operation !== "PUT") return await write(() => kv.create(key, bytes));
        // Our own create, which landed although its reply was lost (then retried, and refused as a duplicate).
        if (holderOf(held.value)?.incarnation === holder.incarnation) return take(held.revision);
        // Held: alive if its revision moves within the window.
        const end = Date.now() + timing.staleAfterMs;
        while (Date.now() < end) {
          await sleep(Math.min(250, timing.heartbeatMs / 4));
          const now = await patiently(() => kv.get(key));
          if (!now || now.operation !== "PUT") break; // released meanwhile: take it
          if (now.revision !== held.revision) {
            throw new ControllerLeaseHeld(
              `run '${runId}' has a live controller (${describe(now.value)}): its lease (KV key ${key}) was renewed while this one waited. Stop it before starting another, or wait for it to end`,
            );
          }
        }
        const now = await patiently(() => kv.get(key));
        if (!now || now.operation !== "PUT") return await write(() => kv.create(key, bytes));
        return await write(() => kv.update(key, bytes, held.revision));
      } catch (err) {
        if (!(err instanceof CasFailure)) throw err;
        // Another controller wrote the key between our read and our write (or our own write landed unseen):
        // look again.
      }
    }
    const last = await patiently(() => kv.get(key));
    throw new ControllerLeaseHeld(`run '${runId}': another controller (${describe(last?.value)}) took its lease (KV key ${key}) while this one tried to`);
  }

  /** Throws ControllerSuperseded once another controller has taken the run, RunStoreLost once the store went. */
  check(): void {
    if (this.#lost) throw new this.#lost.error(this.#lost.message);
  }

  get lost(): boolean {
    return this.#lost !== null;
  }

  /** Why this controller stopped holding the run, once it has. */
  get lostReason(): string | null {
    return this.#lost?.message ?? null;
  }

  /**
   * Whether this controller may act on the run now: it has not lost the lease, and its last renewal that
   * landed was sent within `staleAfterMs - heartbeatMs`, before any other controller could take the lease.
   */
  get fresh(): boolean {
    return this.#lost === null && performance.now() - this.#renewSentAt < this.timing.staleAfterMs - this.timing.heartbeatMs;
  }

  /**
   * Resolves once the lease is fresh (at once in the common case); waits while renewals do not land (NATS
   * away), throws ControllerSuperseded if the lease is found taken meanwhile (RunStoreLost if it went with the
   * store), and ControllerLeaseUnrenewed after `timeoutMs` without a renewal.
   */
  async held(timeoutMs: number): Promise<void> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      this.check();
      if (this.fresh) return;
      if (performance.now() > end) {
        throw new ControllerLeaseUnrenewed(`run lease ${this.key}: not renewed for ${Math.round((performance.now() - this.#renewSentAt) / 1000)} s (NATS unreachable?); this controller does not act on the run without it`);
      }
      await sleep(Math.min(100, this.timing.heartbeatMs / 4));
    }
  }

  /** Called once, as soon as the lease is found taken (the reconciler stops there, not at the next check). */
  onLost(fn: () => void): void {
    this.#onLost.push(fn);
  }

  private async heartbeat(): Promise<void> {
    if (this.#beating || this.#lost) return;
    this.#beating = true;
    const sentAt = performance.now();
    try {
      this.#revision = await this.kv.update(this.key, encodeEnvelope(KIND, this.holder), this.#revision);
      this.#renewSentAt = sentAt;
      this.#unconfirmedSince = null;
    } catch (err) {
      if (!isCasFailure(err)) {
        // NATS away or slow: the next beat tries again. This write may still land.
        this.#unconfirmedSince ??= sentAt;
        if (await this.options.bucketGone?.().catch(() => false)) this.standDown(RunStoreLost, this.storeLost("its KV bucket is gone"));
        return;
      }
      let now: Awaited<ReturnType<KV["get"]>>;
      try {
        now = await this.kv.get(this.key);
      } catch {
        return; // NATS away again: the next beat looks again
      }
      // Our own write whose reply was lost: carry on from it.
      if (now && now.operation === "PUT" && holderOf(now.value)?.incarnation === this.holder.incarnation) {
        // It was one of the renewals whose reply never came, sent no earlier than the oldest of them.
        this.#revision = now.revision;
        if (this.#unconfirmedSince !== null) this.#renewSentAt = Math.max(this.#renewSentAt, this.#unconfirmedSince);
        this.#unconfirmedSince = null;
        return;
      }
      // No record at all: not taken (a taker writes one) nor released (that leaves a delete marker), but gone
      // with the store (the bucket made anew since, empty, by whoever opened it first).
      if (!now) this.standDown(RunStoreLost, this.storeLost("it holds no record of the lease, not even a release"));
      else {
        this.standDown(
          ControllerSuperseded,
          `another controller took run lease ${this.key} (${now.operation === "PUT" ? describe(now.value) : "and released it since"}) while this one (pid ${this.holder.pid} on ${this.holder.host}) was cut off; this one stands down`,
        );
      }
    } finally {
      this.#beating = false;
    }
  }

  private storeLost(what: string): string {
    return storeLostMessage(`run lease ${this.key}`, what);
  }

  private standDown(error: typeof ControllerSuperseded | typeof RunStoreLost, message: string): void {
    if (this.#lost) return;
    this.#lost = { error, message };
    if (this.#beat) clearInterval(this.#beat);
    for (const fn of this.#onLost.splice(0)) {
      try {
        fn();
      } catch {
        // a stand-down hook must not keep the others from running
      }
    }
  }

  /** Gives the run up (a controller that ends): a resume then starts at once instead of after the window. */
  async release(): Promise<void> {
    if (this.#beat) clearInterval(this.#beat);
    this.#beat = null;
    while (this.#beating) await sleep(10);
    if (this.#lost) return;
    await this.kv.delete(this.key, { previousSeq: this.#revision }).catch(() => undefined);
  }
}

/**
 * The run's lease as it stands (for `lspo status`): its holder, as recorded, and its revision; null when none.
 * Read from the bucket's stream, never creating the bucket: a reader must not make it with other settings
 * (replicas) than the controller's provisioning will.
 */
export async function readLease(jsm: JetStreamManager, runId: string): Promise<{ holder: Partial<LeaseHolder> | null; revision: number } | null> {
  const m = await jsm.streams.getMessage(`KV_${KV_BUCKETS.sampler}`, { last_by_subj: `$KV.${KV_BUCKETS.sampler}.${runId}.controller` }).catch((err: Error) => {
    if (/stream not found/i.test(err.message)) return null; // no run has used this NATS yet
    throw err;
  });
  if (!m || ["DEL", "PURGE"].includes(m.header?.get("KV-Operation") ?? "")) return null;
  return { holder: holderOf(m.data), revision: m.seq };
}
