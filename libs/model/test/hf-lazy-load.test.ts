// Loading without holding a model twice (issue 16): lazy entries read each tensor from its source when it is
// decoded, and decoding keeps fresh or caller-owned aligned bytes as the tensor instead of copying them.
import { describe, expect, it } from "vitest";
import { bytesSource, decodeEntry, parseSafetensors, serializeSafetensors, type ByteSource, type Tensor } from "@lspo/model";

const tensors: Array<[string, Tensor]> = [
  ["a", { dtype: "float32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
  ["b", { dtype: "float32", shape: [4], data: Float32Array.from([7, 8, 9, 10]) }],
];

describe("safetensors - lazy entries and decoding without a copy", () => {
  it("a lazy entry reads its bytes from the source on each access, and decodes to the same values", () => {
    const file = serializeSafetensors(tensors);
    const reads: Array<[number, number]> = [];
    const inner = bytesSource(file);
    const src: ByteSource = { byteLength: inner.byteLength, read: (o, n) => (reads.push([o, n]), inner.read(o, n).slice()) };
    const lazy = parseSafetensors(src, "lazy.safetensors", { lazy: true });
    const headerReads = reads.length;
    const a = lazy.tensors.get("a")!;
    expect(a.fresh).toBe(true);
    expect(reads.length).toBe(headerReads); // nothing of the data read yet
    const t = decodeEntry(a);
    expect([...(t.data as Float32Array)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(reads.length).toBe(headerReads + 1);
    // Fresh bytes are kept as the tensor (no second copy of it).
    expect(t.data.byteLength).toBe(24);
    // Eager parsing (the default) reads every tensor up front, as before.
    reads.length = 0;
    parseSafetensors(src, "eager.safetensors");
    expect(reads.length).toBeGreaterThanOrEqual(4);
  });

  it("decoding a view: copied by default, kept with copy: false when aligned, copied when not", () => {
    const file = serializeSafetensors(tensors);
    const entry = parseSafetensors(file).tensors.get("b")!;
    const copied = decodeEntry(entry);
    expect(copied.data.buffer).not.toBe(file.buffer);
    const kept = decodeEntry(entry, { copy: false });
    expect(kept.data.buffer).toBe(file.buffer);
    expect([...(kept.data as Float32Array)]).toEqual([7, 8, 9, 10]);
    // A misaligned view cannot back a Float32Array: it is copied whatever was asked.
    const shifted = new Uint8Array(entry.bytes.byteLength + 1);
    shifted.set(entry.bytes, 1);
    const odd = decodeEntry({ ...entry, bytes: shifted.subarray(1) }, { copy: false });
    expect(odd.data.buffer).not.toBe(shifted.buffer);
    expect([...(odd.data as Float32Array)]).toEqual([7, 8, 9, 10]);
  });
});
