// Envelopes encoded into pooled buffers, for publishes. msgpackr's own encoder packs each message into a
// shared buffer and, when a large message does not fit, allocates a fresh one four times its size: a 1 MB
// RolloutGroup then costs page faults on ~1.3 MB of new memory, which tripled its encoding's CPU time
// (bench/bus.ts: +450 µs of client CPU per 1 MB publish, against +110 µs pooled). A lease reuses a buffer
// once the message it held is known to be on the server.
import { Packr } from "msgpackr";
import { SCHEMA_VERSION, type Envelope } from "./codec.js";

export interface LeasedEnvelope {
  readonly bytes: Uint8Array;
  /**
   * Returns the buffer to the pool. Call it only once nothing can read `bytes` again: after the server
   * acknowledged the publish. (A failed publish may still sit in the client's outbound queue, waiting for a
   * reconnect: never release after a failure, let the garbage collector have it.)
   */
  release(): void;
}

const MIN_BUFFER = 64 * 1024;
/** Buffers above this are used once, never pooled. */
const MAX_POOLED_BUFFER = 16 * 1024 * 1024;
/** The pool's total size: enough for 64 publishes of 1 MB in flight. */
const MAX_POOL_BYTES = 96 * 1024 * 1024;

// A Packr of its own: `useBuffer` points it at the leased buffer before every pack, so its target is never
// a buffer that belongs to another lease. Its encoding options are codec.ts's (the test "encodes byte for
// byte as encodeEnvelope" holds the two to the same wire format).
const packr = new Packr({ moreTypes: true, useRecords: false, int64AsType: "bigint", mapsAsObjects: true });
const pool: Buffer[] = [];
let pooledBytes = 0;
/** New buffers are sized for the largest envelope seen so far (+1/8), so msgpackr rarely has to grow one. */
let sizeHint = MIN_BUFFER;

function take(): Buffer {
  while (pool.length > 0) {
    const buf = pool.pop()!;
    pooledBytes -= buf.length;
    if (buf.length >= sizeHint) return buf;
    // Too small for the messages now being sent: msgpackr would outgrow it; drop it.
  }
  return Buffer.allocUnsafeSlow(sizeHint);
}

function give(buf: Buffer): void {
  if (buf.length > MAX_POOLED_BUFFER || buf.length < sizeHint || pooledBytes + buf.length > MAX_POOL_BYTES) return;
  pool.push(buf);
  pooledBytes += buf.length;
}

export function leaseEnvelope<T>(kind: string, body: T): LeasedEnvelope {
  const buf = take();
  packr.useBuffer(buf);
  const bytes: Uint8Array = packr.pack({ v: SCHEMA_VERSION, kind, body } satisfies Envelope<T>);
  // When the message did not fit, msgpackr moved to a larger buffer of its own: that one is the lease's.
  const owned = bytes.buffer === buf.buffer ? buf : Buffer.from(bytes.buffer as ArrayBuffer);
  if (bytes.byteLength + (bytes.byteLength >> 3) > sizeHint) sizeHint = (bytes.byteLength + (bytes.byteLength >> 3) + 4095) & ~4095;
  let released = false;
  return {
    bytes,
    release() {
      if (released) return;
      released = true;
      give(owned);
    },
  };
}

/** Pool occupancy, for tests and diagnostics. */
export function leasePoolStats(): { buffers: number; bytes: number; sizeHint: number } {
  return { buffers: pool.length, bytes: pooledBytes, sizeHint };
}
