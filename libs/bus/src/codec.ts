// The wire format of every NATS payload: a msgpackr-encoded envelope `{ v, kind, body }` around a generated
// proto type. msgpackr (`moreTypes`) round-trips typed arrays, Dates and bigints, so the generated TS objects
// travel as they are: large numeric arrays are already `bytes` (Uint8Array) in the contracts.
import { Packr } from "msgpackr";
import { DecodeError } from "./errors.js";

/** Bumped when an incompatible change is made to the envelope or to a message kind's shape. */
export const SCHEMA_VERSION = 1;

// `int64AsType: "bigint"` keeps uint64 proto fields (forceLong=bigint) as bigint after a round trip;
// numbers are never encoded as 64-bit integers by msgpackr, so they stay numbers.
// `copyBuffers`: decoded byte arrays must own their memory. Without it they are views into the input, and
// NATS reuses its receive buffers: a group held by the sampler would later read another message's bytes.
const packr = new Packr({ moreTypes: true, useRecords: false, int64AsType: "bigint", mapsAsObjects: true, copyBuffers: true });

export interface Envelope<T = unknown> {
  v: number;
  kind: string;
  body: T;
}

export function encodeEnvelope<T>(kind: string, body: T): Uint8Array {
  return packr.pack({ v: SCHEMA_VERSION, kind, body } satisfies Envelope<T>);
}

/** Decodes and checks the envelope; the body's shape is checked by the kind's validator (see messages.ts). */
export function decodeEnvelope(bytes: Uint8Array, expectedKind: string, maxBytes = Infinity): Envelope {
  if (bytes.byteLength > maxBytes) {
    throw new DecodeError("oversize", `payload of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes} for ${expectedKind}`);
  }
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new DecodeError("truncated", `payload is not valid msgpack (${(err as Error).message}); expected ${expectedKind}`);
  }
  if (typeof value !== "object" || value === null || !("v" in value) || !("kind" in value) || !("body" in value)) {
    throw new DecodeError("not-an-envelope", `payload is not an lspo envelope {v, kind, body}; expected ${expectedKind}`);
  }
  const env = value as Envelope;
  if (env.v !== SCHEMA_VERSION) {
    throw new DecodeError("schema-version", `schema version ${String(env.v)} is not supported (this build speaks ${SCHEMA_VERSION})`);
  }
  if (env.kind !== expectedKind) {
    throw new DecodeError("wrong-kind", `message kind '${String(env.kind)}' where '${expectedKind}' was expected`);
  }
  return env;
}

// Little-endian typed-array <-> bytes helpers for the contracts' `bytes` fields. Copies when the view is
// unaligned (a Uint8Array slice of a larger buffer may start at any offset).
function view<T>(bytes: Uint8Array, size: number, make: (b: ArrayBuffer, o: number, n: number) => T): T {
  if (bytes.byteLength % size !== 0) {
    throw new DecodeError("invalid", `byte length ${bytes.byteLength} is not a multiple of ${size}`);
  }
  if (bytes.byteOffset % size === 0) return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = bytes.slice();
  return make(copy.buffer as ArrayBuffer, 0, copy.byteLength / size);
}

export const int32Of = (b: Uint8Array): Int32Array => view(b, 4, (buf, o, n) => new Int32Array(buf, o, n));
export const float32Of = (b: Uint8Array): Float32Array => view(b, 4, (buf, o, n) => new Float32Array(buf, o, n));
/** A Buffer view (no copy): the generated contracts type `bytes` fields as Buffer. */
export const bytesOf = (a: Int32Array | Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
