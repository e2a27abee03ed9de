// The stream window's slots as bytes, for durable.ts's window log: little-endian float64s (NaN: an arrival
// without a length), whatever the host's byte order.

export function windowSlotsBytes(slots: Float64Array): Uint8Array {
  const out = new Uint8Array(slots.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < slots.length; i++) view.setFloat64(i * 8, slots[i], true);
  return out;
}

export function windowSlotsFromBytes(bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(bytes.byteLength >> 3);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

/**
 * The window a log holds: the last `capacity` slots of its parts concatenated (base first), oldest first,
 * in the library snapshot's form (null for a slot without a length).
 */
export function windowSlots(parts: readonly Float64Array[], capacity: number): (number | null)[] {
  const total = parts.reduce((n, p) => n + p.length, 0);
  let skip = Math.max(0, total - capacity);
  const out: (number | null)[] = [];
  for (const p of parts) {
    for (let i = Math.min(skip, p.length); i < p.length; i++) out.push(p[i] === p[i] ? p[i] : null);
    skip = Math.max(0, skip - p.length);
  }
  return out;
}
