// The window log's byte form and its assembly (durable.ts): slots round-trip bit for bit (NaN included),
// and a log's window is the last W slots of its segments, base first.
import { describe, expect, it } from "vitest";
import { windowSlots, windowSlotsBytes, windowSlotsFromBytes } from "../src/window-log.js";

describe("sampler window log", () => {
  it("round-trips slots through little-endian bytes, NaN included", () => {
    const slots = Float64Array.from([0, 1.125, NaN, 2047.875, 1e-300, 3 / 7]);
    const bytes = windowSlotsBytes(slots);
    expect(bytes.byteLength).toBe(48);
    expect(new DataView(bytes.buffer).getFloat64(8, true)).toBe(1.125);
    // Read from an unaligned offset, as a decoded message body can be.
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    expect([...windowSlotsFromBytes(shifted.subarray(3))]).toEqual([...slots]);
  });

  it("a log's window is the last W slots of its parts, oldest first, null for a slot without a length", () => {
    const parts = [Float64Array.from([1, 2, 3, 4]), Float64Array.from([5, NaN]), Float64Array.from([]), Float64Array.from([7])];
    expect(windowSlots(parts, 4)).toEqual([4, 5, null, 7]);
    expect(windowSlots(parts, 2)).toEqual([null, 7]);
    expect(windowSlots(parts, 100)).toEqual([1, 2, 3, 4, 5, null, 7]);
    expect(windowSlots([], 3)).toEqual([]);
  });
});
