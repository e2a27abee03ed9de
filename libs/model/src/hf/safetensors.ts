// The safetensors format (https://github.com/huggingface/safetensors#format), read and written from bytes:
//   [u64 little-endian N][N bytes of UTF-8 JSON header][data buffer]
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to the
// data buffer) plus an optional "__metadata__" string->string map. Like the reference implementation we
// insist that the tensors tile the data buffer exactly (no holes, no overlap, nothing after the last one):
// a file that breaks that is truncated or corrupt, and reading it anyway would hand garbage to the model.
import { type DType, type Tensor, numel } from "../tensor.js";

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

/** On-disk dtypes we can read. Widths in bytes; `tensor` is the in-memory dtype it decodes to. */
const DTYPES = {
  F64: { bytes: 8, tensor: "float64" },
  F32: { bytes: 4, tensor: "float32" },
  // Half precisions widen to float32 on decode (exact: every f16/bf16 value is a float32 value).
  F16: { bytes: 2, tensor: "float32" },
  BF16: { bytes: 2, tensor: "float32" },
  I64: { bytes: 8, tensor: "int64" },
  I32: { bytes: 4, tensor: "int32" },
  BOOL: { bytes: 1, tensor: "bool" },
} as const satisfies Record<string, { bytes: number; tensor: DType }>;

export type SafetensorsDType = keyof typeof DTYPES;

/** Our in-memory dtype -> the safetensors dtype it is written as. */
const WRITE_DTYPE = {
  float64: "F64",
  float32: "F32",
  int64: "I64",
  int32: "I32",
  bool: "BOOL",
} as const satisfies Record<DType, SafetensorsDType>;

/** A Tensor whose dtype discriminates its data type (narrowing on `t.dtype` narrows `t.data`). */
export type DecodedTensor = { [D in DType]: Tensor<D> }[DType];

export interface ParseOptions {
  /** With a ByteSource: each entry's `bytes` is read from the source when accessed, and again on every access
   *  (the source must stay open until the entries are used). For consumers that read each entry once. */
  lazy?: boolean;
}

export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** The tensor's raw little-endian bytes: a view into the parsed buffer (no copy). */
  bytes: Uint8Array;
  /** `bytes` is a fresh buffer read for this access alone (a lazy entry): decoding may keep it, uncopied. */
  fresh?: boolean;
}

export interface SafetensorsFile {
  metadata: Record<string, string> | null;
  /** In the order of their data offsets. */
  tensors: Map<string, SafetensorsEntry>;
}

/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length would OOM us). */
const MAX_HEADER_BYTES = 100_000_000;

// Typed-array views share the host's byte order; safetensors is little-endian. Every platform Node
// ships for is little-endian, but a silent byte swap would be undebuggable, so say it once.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Random access to a file's bytes, so a file is never held whole: Node refuses buffers over 2 GiB, and a
 * 1.5B-parameter fp16 checkpoint is one 3 GB file. `read` returns `length` bytes from `offset` (the caller
 * owns them); offsets may pass 2^32.
 */
export interface ByteSource {
  readonly byteLength: number;
  read(offset: number, length: number): Uint8Array;
}

/** A source over bytes already in memory (views, no copies). */
export function bytesSource(buf: Uint8Array): ByteSource {
  return { byteLength: buf.byteLength, read: (offset, length) => buf.subarray(offset, offset + length) };
}

/**
 * Parses a safetensors file, from its bytes or from a ByteSource (then each tensor is read on its own, and the
 * file is never in memory whole). `where` (e.g. a file name) prefixes every error message.
 */
export function parseSafetensors(input: Uint8Array | ByteSource, where = "safetensors", opts: ParseOptions = {}): SafetensorsFile {
  const src = input instanceof Uint8Array ? bytesSource(input) : input;
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${where}: ${msg}`);
  };
  if (src.byteLength < 8) fail(`file is ${src.byteLength} bytes, shorter than the 8-byte header length`);
  const first = src.read(0, 8);
  const headerLen = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  if (8 + n > src.byteLength) fail(`header length ${n} runs past the end of the ${src.byteLength}-byte file`);

  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(src.read(8, n));
    if (!text.startsWith("{")) fail(`header does not start with '{'`);
    header = JSON.parse(text);
  } catch (e) {
    if (e instanceof SafetensorsError) throw e;
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail("header is not a JSON object");
  const dataStart = 8 + n;
  const dataBytes = src.byteLength - dataStart;

  let metadata: Record<string, string> | null = null;
  const raw: Array<{ name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }> = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(value, fail);
      continue;
    }
    raw.push({ name, ...parseEntry(name, value, fail) });
  }

  // Sort by offset, then check that the tensors tile [0, data.length) exactly.
  raw.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of raw) {
    if (e.begin !== cursor) {
      fail(e.begin > cursor
        ? `tensor '${e.name}' starts at byte ${e.begin} but the previous tensor ends at ${cursor} (a hole in the data buffer)`
        : `tensor '${e.name}' starts at byte ${e.begin}, overlapping the previous tensor that ends at ${cursor}`);
    }
    cursor = e.end;
  }
  if (cursor > dataBytes) {
    // Name the first tensor the file cannot hold, with its bytes in the file: where to look in a bad copy.
    const cut = raw.find((e) => e.end > dataBytes)!;
    fail(`truncated: tensor '${cut.name}' needs file bytes [${dataStart + cut.begin}, ${dataStart + cut.end}) but the file ends at byte ${src.byteLength} (tensors need ${cursor} data bytes, the file holds ${dataBytes})`);
  }
  if (cursor < dataBytes) fail(`data buffer has ${dataBytes - cursor} trailing bytes not covered by any tensor`);

  const tensors = new Map<string, SafetensorsEntry>();
  for (const e of raw) {
    const at = dataStart + e.begin;
    const length = e.end - e.begin;
    if (opts.lazy && !(input instanceof Uint8Array)) {
      // Read when asked, every time, and never kept: a consumer that decodes each entry once holds one
      // tensor's raw bytes at a time instead of the whole file's (a 6 GB checkpoint loads in 6 GB, not 12).
      tensors.set(e.name, { dtype: e.dtype, shape: e.shape, fresh: true, get bytes() { return src.read(at, length); } });
    } else {
      tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: src.read(at, length) });
    }
  }
  return { metadata, tensors };
}

function parseMetadata(value: unknown, fail: (m: string) => never): Record<string, string> {
  if (!isPlainObject(value)) fail(`'__metadata__' must be an object of strings`);
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== "string") fail(`'__metadata__.${k}' must be a string, got ${JSON.stringify(v)}`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, fail: (m: string) => never) {
  if (!isPlainObject(value)) fail(`tensor '${name}': entry must be an object with dtype, shape, data_offsets`);
  const v = value as Record<string, unknown>;
  for (const key of ["dtype", "shape", "data_offsets"]) {
    if (!(key in v)) fail(`tensor '${name}': missing '${key}'`);
  }
  if (typeof v.dtype !== "string" || !(v.dtype in DTYPES)) {
    fail(`tensor '${name}': dtype ${JSON.stringify(v.dtype)} is not supported (supported: ${Object.keys(DTYPES).join(", ")})`);
  }
  const dtype = v.dtype as SafetensorsDType;
  if (!Array.isArray(v.shape) || !v.shape.every(isNonNegInt)) {
    fail(`tensor '${name}': shape ${JSON.stringify(v.shape)} must be an array of non-negative integers`);
  }
  const offs = v.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) {
    fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} must be [begin, end] non-negative integers`);
  }
  const [begin, end] = offs as [number, number];
  if (end < begin) fail(`tensor '${name}': data_offsets [${begin}, ${end}] end before they begin`);
  const shape = v.shape as number[];
  const want = numel(shape) * DTYPES[dtype].bytes;
  if (end - begin !== want) {
    fail(`tensor '${name}': ${dtype} [${shape.join(",")}] needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
  }
  return { dtype, shape, begin, end };
}

/**
 * Decodes one entry into a Tensor. F16/BF16 widen to float32. Copied (an own, aligned buffer) unless `copy` is
 * false, or the entry's bytes are fresh (read for this call), and they are aligned for their dtype: then the
 * tensor is a view of them, which a caller that owns the buffer (a weights shard it fetched) uses to avoid
 * holding every tensor twice.
 */
export function decodeEntry(entry: SafetensorsEntry, opts: { copy?: boolean } = {}): DecodedTensor {
  if (!HOST_IS_LITTLE_ENDIAN) throw new SafetensorsError("big-endian hosts are not supported");
  const raw = entry.bytes;
  const width = DTYPES[entry.dtype].bytes;
  const keep = (opts.copy ?? !entry.fresh) === false && raw.byteOffset % width === 0;
  const bytes = keep ? raw : raw.slice(); // own, aligned copy
  const shape = [...entry.shape];
  const { buffer, byteOffset } = bytes;
  const n = bytes.byteLength / width;
  switch (entry.dtype) {
    case "F64": return { dtype: "float64", shape, data: new Float64Array(buffer, byteOffset, n) };
    case "F32": return { dtype: "float32", shape, data: new Float32Array(buffer, byteOffset, n) };
    case "F16": return { dtype: "float32", shape, data: widenF16(new Uint16Array(buffer, byteOffset, n)) };
    case "BF16": return { dtype: "float32", shape, data: widenBF16(new Uint16Array(buffer, byteOffset, n)) };
    case "I64": return { dtype: "int64", shape, data: new BigInt64Array(buffer, byteOffset, n) };
    case "I32": return { dtype: "int32", shape, data: new Int32Array(buffer, byteOffset, n) };
    case "BOOL": return { dtype: "bool", shape, data: bytes };
  }
}

/** Serialises named tensors into one buffer: the concatenation of safetensorsParts. */
export function serializeSafetensors(
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Record<string, string> | null = null,
): Uint8Array {
  return concatParts(safetensorsParts(tensors, metadata));
}

/** The parts of a file as one buffer (for files small enough to be one: the in-memory API). */
export function concatParts(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.byteLength;
  }
  return out;
}

/**
 * A safetensors file as parts to write one after another: the length-prefixed header, then each tensor's
 * bytes as a view of its data (no copy), so a file of any size is written without one buffer holding it.
 * Data is laid out widest dtype first, then by name (as the Python writer does), so every tensor starts at
 * an offset aligned to its element size; the header is padded with spaces to a multiple of 8 bytes so the
 * data buffer is 8-aligned too.
 */
export function safetensorsParts(
  tensors: Iterable<readonly [string, Tensor]>,
  metadata: Record<string, string> | null = null,
  options: WriteOptions = {},
): Uint8Array[] {
  const items = [...tensors].map(([name, t]) => {
    if (name === "__metadata__") throw new SafetensorsError(`tensor name '__metadata__' is reserved`);
    if (t.data.length !== numel(t.shape)) {
      throw new SafetensorsError(`tensor '${name}': shape [${t.shape.join(",")}] needs ${numel(t.shape)} elements, data has ${t.data.length}`);
    }
    const dtype: SafetensorsDType = t.dtype === "float32" && options.float32As === "BF16" ? "BF16" : WRITE_DTYPE[t.dtype];
    return { name, t, dtype, width: DTYPES[dtype].bytes };
  });
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.name)) throw new SafetensorsError(`tensor '${it.name}' appears twice`);
    seen.add(it.name);
  }
  items.sort((a, b) => b.width - a.width || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const it of items) {
    const len = it.t.data.length * it.width;
    header[it.name] = { dtype: it.dtype, shape: it.t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(headerBytes);
    headerBytes = p;
  }
  const head = new Uint8Array(8 + headerBytes.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  head.set(headerBytes, 8);
  return [head, ...items.map(({ t, dtype }) => {
    if (dtype === "BF16") {
      const h = narrowToBF16(t.data as Float32Array);
      return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
    }
    const d = t.data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  })];
}

export interface WriteOptions {
  /** Store float32 tensors as BF16 (half the bytes; what a bf16 checkpoint holds). Reading widens back exactly. */
  float32As?: "F32" | "BF16";
}

/** Bytes a tensor takes on disk under these write options. */
export function storedBytes(t: Tensor, options: WriteOptions = {}): number {
  return t.dtype === "float32" && options.float32As === "BF16" ? t.data.length * 2 : t.data.byteLength;
}

/** float32 -> bf16, rounding to nearest, ties to even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
function narrowToBF16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = bits[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0) {
      out[i] = (b >>> 16) | 0x0040; // a quiet NaN, whatever its payload
      continue;
    }
    out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

function widenF16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const sign = x & 0x8000 ? -1 : 1;
    const exp = (x >> 10) & 0x1f;
    const frac = x & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 // subnormal
      : exp === 0x1f ? (frac ? NaN : sign * Infinity)
      : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

function widenBF16(h: Uint16Array): Float32Array {
  // bf16 is the top half of a float32.
  const bits = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) bits[i] = h[i] << 16;
  return new Float32Array(bits.buffer);
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
