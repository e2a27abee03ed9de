// Typed KV entries and object-store blobs (weights, oversized batches), with the same envelope codec.
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, setSha256Backend, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { decodeEnvelope, encodeEnvelope } from "./codec.js";
import { VALIDATORS } from "./messages.js";
import { backedOff } from "./backoff.js";
import { DecodeError, isConnectionGone } from "./errors.js";
import { createOrAwait, isPermissionError, jetstreamManager, retryOnTimeout } from "./streams.js";

// The object store checks a blob's SHA-256 on every put and get. Its default hash is pure JS (browser-safe);
// Node's crypto makes a 128 MB weights put or get 4-5x faster (bench/weights.ts). Process-wide, so it is set
// once here, before any store is used.
setSha256Backend("native");

export async function openKv(nc: NatsConnection, bucket: string, opts: { replicas?: number; history?: number } = {}): Promise<KV> {
  return openBucket(nc, `KV bucket ${bucket}`, `KV_${bucket}`, () => new Kvm(nc).create(bucket, { replicas: opts.replicas ?? 1, history: opts.history ?? 1 }));
}

export async function openObjectStore(nc: NatsConnection, bucket: string, opts: { replicas?: number } = {}): Promise<ObjectStore> {
  return openBucket(nc, `object store ${bucket}`, `OBJ_${bucket}`, () => new Objm(nc).create(bucket, { replicas: opts.replicas ?? 1 }));
}

/**
 * A KV bucket or object store, made by `create` over its backing `stream`. Creating an R3 bucket may time out on
 * a loaded cluster although it landed, and JetStream may not answer yet while a server starts or elects a leader:
 * create is idempotent (on an existing bucket it only reads its info), so it is retried (retryOnTimeout). An
 * identity that may not create buckets waits for the controller to make it (createOrAwait), then opens it.
 */
async function openBucket<T>(nc: NatsConnection, what: string, stream: string, create: () => Promise<T>): Promise<T> {
  let made: T | null = null;
  await retryOnTimeout(
    () => createOrAwait(what, async () => (made = await create()), async () => jetstreamManager(nc).then((jsm) => jsm.streams.info(stream))),
    what,
  );
  return made ?? retryOnTimeout(create, what);
}

/** How long a KV call keeps retrying while a clustered NATS elects a new leader for the bucket (a killed
 *  server's buckets answer "no responders" / "jetstream not enabled" / time out for a few seconds). */
const KV_RETRY_MS = 30_000;

/**
 * Retries `fn` on NATS errors for up to `limitMs`, with backoff; then throws the last error (the caller ends
 * its loop, and the process restarts). Never on a DecodeError (the message's own fault), a permissions
 * violation (this identity's: no wait mends it, and the caller should hear it now, not in `limitMs`), or a
 * closed or draining connection (it never carries another call: a stop must not wait out `limitMs`). With
 * `retryWhile`, only while it holds too (checked after each failure and after each wait): a stopping service
 * passes `() => !ctx.stopping`, so its drain does not wait out `limitMs` against a NATS that is away.
 */
export async function retryTransient<T>(fn: () => Promise<T>, limitMs = KV_RETRY_MS, retryWhile?: () => boolean): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof DecodeError || isPermissionError(err) || isConnectionGone(err) || Date.now() > deadline) throw err;
      if (!(await backedOff(attempt, retryWhile))) throw err;
    }
  }
}

/** A plain put (last writer wins), so a retry after a put that did land only writes the same value again. */
export async function kvPut<T>(kv: KV, key: string, kind: string, body: T): Promise<number> {
  const bytes = encodeEnvelope(kind, body);
  return retryTransient(() => kv.put(key, bytes));
}

/** The decoded value under `key`, or null when absent/deleted. Throws DecodeError when malformed. A failed read
 *  is retried (retryTransient), only while `opts.retryWhile` holds where given. */
export async function kvGet<T>(kv: KV, key: string, kind: string, opts: { retryWhile?: () => boolean } = {}): Promise<{ value: T; revision: number } | null> {
  const e = await retryTransient(() => kv.get(key), KV_RETRY_MS, opts.retryWhile);
  if (!e || e.operation !== "PUT" || e.value.byteLength === 0) return null;
  const body = decodeEnvelope(e.value, kind).body;
  const problem = VALIDATORS[kind]?.(body) ?? null;
  if (problem) throw new DecodeError("invalid", problem);
  return { value: body as T, revision: e.revision };
}

/**
 * Puts bytes under `name` (chunked by the object store, so far larger than the max payload). Retried like a
 * KV put while a server restarts or a leader moves: a put cut off there can leave the name's metadata
 * pointing at chunks the store never kept (seen in the cluster test: the sampler then could not read its
 * own snapshot back, ever), and a complete put of the same bytes writes fresh chunks and metadata over it.
 */
export async function putBlob(store: ObjectStore, name: string, bytes: Uint8Array): Promise<void> {
  await retryTransient(() => store.putBlob({ name }, bytes));
}

/**
 * Puts the concatenation of `parts` under `name` without joining them (a shard of a large model is written
 * from views of its tensors: no buffer holds the whole object), retried like putBlob. Parts are fed to the
 * object store in slices of at most 8 MiB, so a part of any size streams.
 */
export async function putParts(store: ObjectStore, name: string, parts: readonly Uint8Array[]): Promise<void> {
  const SLICE = 8 << 20;
  const stream = () => {
    let i = 0;
    let at = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        while (i < parts.length && at >= parts[i].byteLength) {
          i++;
          at = 0;
        }
        if (i >= parts.length) {
          controller.close();
          return;
        }
        const p = parts[i];
        const end = Math.min(p.byteLength, at + SLICE);
        controller.enqueue(p.subarray(at, end));
        at = end;
      },
    });
  };
  await retryTransient(() => store.put({ name }, stream()));
}

/**
 * Why a read of an object got no whole, checked copy of it, where the object store answered: it is not there
 * (`missing`), or it changed under the reader (`stalled`: no chunk for a while, its old chunks purged by a
 * rewrite; `size`: more or fewer bytes than its info recorded; `digest`: the bytes do not hash to its recorded
 * digest). A reader racing a writer reads again; any other error of getBlob is the bus's (NATS away, a
 * timeout).
 */
export class ObjectChangedError extends Error {
  override name = "ObjectChangedError";
  constructor(
    readonly object: string,
    readonly reason: "missing" | "stalled" | "size" | "digest",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** nats.js's object store reports a digest mismatch only in its message ("... digests do not match ..."). */
function digestMismatch(name: string, err: unknown): unknown {
  const message = (err as Error)?.message ?? "";
  return /digests? do not match/i.test(message) ? new ObjectChangedError(name, "digest", `object '${name}': ${message}`, { cause: err }) : err;
}

/**
 * The bytes under `name`, checked against the object's SHA-256 digest by the object store. Chunks are copied
 * into one buffer of the recorded size as they arrive: the object store's own getBlob keeps every chunk and
 * then concatenates them, which holds ~2.2x the object at its peak (a 1 GB weights fetch peaked at 2.3 GB of
 * RSS per rollout actor, bench/weights.ts) and copies it twice. A read that stops receiving chunks for
 * `stallMs` fails instead of waiting forever: that is what a reader sees when the object is replaced under it
 * (its old chunks are purged), and the caller then reads the pointer again. An object absent, or changed while
 * read, is an ObjectChangedError.
 */
export async function getBlob(store: ObjectStore, name: string, stallMs = 15_000): Promise<Uint8Array> {
  const r = await store.get(name);
  if (!r) throw new ObjectChangedError(name, "missing", `object '${name}' not found in the object store`);
  const out = new Uint8Array(r.info.size);
  const reader = r.data.getReader();
  let at = 0;
  const fill = async (): Promise<void> => {
    for (;;) {
      // A digest mismatch errors the stream: read() rejects with the object store's message.
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ObjectChangedError(name, "stalled", `object '${name}' stalled: no chunk for ${stallMs} ms after ${at} of ${out.byteLength} bytes (replaced while being read?)`)), stallMs);
      });
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await Promise.race([reader.read(), stalled]);
      } catch (err) {
        void reader.cancel().catch(() => undefined);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const { done, value } = chunk;
      if (done) return;
      if (at + value.byteLength > out.byteLength) {
        await reader.cancel();
        throw new ObjectChangedError(name, "size", `object '${name}' has more than its recorded ${out.byteLength} bytes`);
      }
      out.set(value, at);
      at += value.byteLength;
    }
  };
  // Whichever way the object store's digest error comes (the stream's read, its cancel, or r.error), it is typed.
  const [failure] = await Promise.all([r.error, fill().catch((err: unknown) => Promise.reject(digestMismatch(name, err)))]);
  if (failure) throw digestMismatch(name, failure);
  if (at !== out.byteLength) throw new ObjectChangedError(name, "size", `object '${name}' ended after ${at} of its recorded ${out.byteLength} bytes`);
  return out;
}
