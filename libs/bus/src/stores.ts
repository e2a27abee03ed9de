// Typed KV entries and object-store blobs (weights, oversized batches), with the same envelope codec.
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, setSha256Backend, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { decodeEnvelope, encodeEnvelope } from "./codec.js";
import { VALIDATORS } from "./messages.js";
import { DecodeError } from "./errors.js";

// The object store checks a blob's SHA-256 on every put and get. Its default hash is pure JS (browser-safe);
// Node's crypto makes a 128 MB weights put or get 4-5x faster (bench/weights.ts). Process-wide, so it is set
// once here, before any store is used.
setSha256Backend("native");

export async function openKv(nc: NatsConnection, bucket: string, opts: { replicas?: number; history?: number } = {}): Promise<KV> {
  return new Kvm(nc).create(bucket, { replicas: opts.replicas ?? 1, history: opts.history ?? 1 });
}

export async function kvPut<T>(kv: KV, key: string, kind: string, body: T): Promise<number> {
  return kv.put(key, encodeEnvelope(kind, body));
}

/** The decoded value under `key`, or null when absent/deleted. Throws DecodeError when malformed. */
export async function kvGet<T>(kv: KV, key: string, kind: string): Promise<{ value: T; revision: number } | null> {
  const e = await kv.get(key);
  if (!e || e.operation !== "PUT" || e.value.byteLength === 0) return null;
  const body = decodeEnvelope(e.value, kind).body;
  const problem = VALIDATORS[kind]?.(body) ?? null;
  if (problem) throw new DecodeError("invalid", problem);
  return { value: body as T, revision: e.revision };
}

export async function openObjectStore(nc: NatsConnection, bucket: string, opts: { replicas?: number } = {}): Promise<ObjectStore> {
  return new Objm(nc).create(bucket, { replicas: opts.replicas ?? 1 });
}

/** Puts bytes under `name` (chunked by the object store, so far larger than the max payload). */
export async function putBlob(store: ObjectStore, name: string, bytes: Uint8Array): Promise<void> {
  await store.putBlob({ name }, bytes);
}

export async function getBlob(store: ObjectStore, name: string): Promise<Uint8Array> {
  const bytes = await store.getBlob(name);
  if (!bytes) throw new Error(`object '${name}' not found in the object store`);
  return bytes;
}
