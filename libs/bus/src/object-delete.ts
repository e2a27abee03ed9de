// Deleting an object from an object store so that the server's account usage falls with it.
//
// The object store deletes an object's chunks with a purge by subject filter (`$O.<bucket>.C.<nuid>`).
// nats-server before 2.9.15 (Debian 12's is 2.9.10) does not take such a purge off the account's JetStream
// storage usage: the chunks are gone, the account still counts their bytes, until the server restarts. lspo
// deletes an old weights version every publish and the sampler's merged durable-state segments every few
// saves, so on those servers the account's usage grew by a model's size per step until JetStream refused
// every write ("insufficient resources"). There the chunks are deleted one by one first (a deleted message is
// taken off the usage), and the object store's own delete then finds nothing left to purge.
import type { NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiError, jetstream } from "@nats-io/jetstream";
import { jetstreamManager } from "./streams.js";
import type { ObjectStore } from "@nats-io/obj";

/** Chunk deletions in flight at once (each a request to the server). */
const DELETES_IN_FLIGHT = 32;
/** JetStream's error code for a message that is not there (deleted already). */
const NO_MESSAGE_FOUND = 10057;
/** Listing an object's chunks gives up after this long. */
const LIST_TIMEOUT_MS = 30_000;

/** True for a nats-server version whose purge by subject filter leaves the purged bytes on the account (< 2.9.15). */
export function purgeByFilterLeaksUsage(serverVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(serverVersion);
  if (!m) throw new Error(`nats-server version '${serverVersion}' is not major.minor.patch`);
  const [major, minor, patch] = m.slice(1).map(Number);
  return major < 2 || (major === 2 && (minor < 9 || (minor === 9 && patch < 15)));
}

/**
 * Deletes `name` from `store` (a no-op when there is no such object). On a server whose filtered purge leaks
 * account usage, its chunks are first listed (a headers-only ordered consumer: the sequences, not the bytes)
 * and deleted by sequence.
 */
export async function deleteObject(nc: NatsConnection, store: ObjectStore, name: string): Promise<void> {
  const info = await store.info(name);
  if (!info || info.deleted) return;
  const stream = `OBJ_${info.bucket}`;
  let refused: { seq: number; err: Error } | undefined;
  if (purgeByFilterLeaksUsage(nc.info?.version ?? "0.0.0") && info.chunks > 0) {
    const seqs = await chunkSequences(nc, stream, `$O.${info.bucket}.C.${info.nuid}`);
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < seqs.length; i += DELETES_IN_FLIGHT) {
      await Promise.all(
        seqs.slice(i, i + DELETES_IN_FLIGHT).map((seq) =>
          jsm.streams.deleteMessage(stream, seq, false).catch((err: Error) => {
            // A chunk already gone (another deleter) is no error: the object store's delete below sees to the rest.
            if (!(err instanceof JetStreamApiError && err.code === NO_MESSAGE_FOUND)) refused ??= { seq, err };
          }),
        ),
      );
    }
  }
  // The object goes even when a chunk delete was refused: its purge still removes the bytes from the stream,
  // they only stay counted against the account. The caller hears of it, since nothing else would show it.
  await store.delete(name);
  if (refused) {
    throw new Error(
      `object '${name}' was deleted, but deleting its chunk at ${stream} sequence ${refused.seq} failed (${refused.err.message}): ` +
        `nats-server ${nc.info?.version} keeps counting the purged chunks against the account until it restarts`,
    );
  }
}

/** The stream sequences of every message on `subject`, read headers-only. */
async function chunkSequences(nc: NatsConnection, stream: string, subject: string): Promise<number[]> {
  const jsm = await jetstreamManager(nc);
  const count = (await jsm.streams.info(stream, { subjects_filter: subject })).state.subjects?.[subject] ?? 0;
  if (count === 0) return [];
  const consumer = await jetstream(nc).consumers.getPushConsumer(stream, { filter_subjects: subject, headers_only: true });
  const messages = await consumer.consume();
  // Chunks deleted meanwhile by someone else would leave it waiting for more: it stops after a while with
  // what it has (the object store's purge then takes the rest).
  const timer = setTimeout(() => void messages.stop(), LIST_TIMEOUT_MS);
  const seqs: number[] = [];
  try {
    for await (const m of messages) {
      seqs.push(m.seq);
      if (m.info.pending === 0 || seqs.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    void messages.stop();
  }
  return seqs;
}
