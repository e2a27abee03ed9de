import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  DecodeError, SCHEMA_VERSION, bytesOf, decodeEnvelope, encodeEnvelope, firstNonFiniteFloat32, float32Of, int32Of, leaseEnvelope, leasePoolStats,
  validateRolloutGroup,
} from "@lspo/bus";
import { Packr } from "msgpackr";

describe("codec - envelope", () => {
  it("round-trips typed arrays, bigints, dates and nested messages", () => {
    const ids = new Int32Array([1, -2, 2147483647]);
    const body = { uid: "p1", version: 2n ** 40n + 3n, at: new Date(1_700_000_000_123), ids: bytesOf(ids), f: new Float32Array([0.5, -1.25]), small: 7 };
    const env = decodeEnvelope(encodeEnvelope("X", body), "X");
    expect(env.v).toBe(SCHEMA_VERSION);
    const out = env.body as typeof body;
    expect(out.version).toBe(2n ** 40n + 3n);
    expect(out.at.getTime()).toBe(1_700_000_000_123);
    expect(Array.from(int32Of(out.ids))).toEqual([1, -2, 2147483647]);
    expect(out.f).toBeInstanceOf(Float32Array);
    expect(Array.from(out.f)).toEqual([0.5, -1.25]);
    expect(out.small).toBe(7);
  });

  it("reads little-endian arrays from unaligned views", () => {
    const raw = new Uint8Array(9);
    raw.set(bytesOf(new Float32Array([3.5, -2])), 1);
    expect(Array.from(float32Of(raw.subarray(1)))).toEqual([3.5, -2]);
    expect(() => int32Of(raw.subarray(0, 7))).toThrow(/multiple of 4/);
  });

  const cases: Array<[string, Uint8Array, string]> = [
    ["truncated", encodeEnvelope("X", { a: "hello world" }).subarray(0, 5), "truncated"],
    ["not an envelope", new Packr().pack({ hello: 1 }), "not-an-envelope"],
    ["wrong schema version", new Packr().pack({ v: 99, kind: "X", body: {} }), "schema-version"],
    ["wrong kind", encodeEnvelope("Y", {}), "wrong-kind"],
    ["oversize", encodeEnvelope("X", { pad: "x".repeat(2000) }), "oversize"],
  ];
  for (const [name, bytes, failure] of cases) {
    it(`rejects a ${name} payload with a named failure`, () => {
      try {
        decodeEnvelope(bytes, "X", 1000);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        expect((err as DecodeError).failure).toBe(failure);
      }
    });
  }
});

describe("codec - leased envelopes", () => {
  const body = (uid: string, floats: number) => ({ uid, at: new Date(1_700_000_000_000), n: 7n, lp: bytesOf(Float32Array.from({ length: floats }, (_, i) => -i / 8)) });

  it("encodes byte for byte as encodeEnvelope", () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 5000 }), (uid, floats) => {
        const lease = leaseEnvelope("X", body(uid, floats));
        expect(Buffer.from(lease.bytes).equals(Buffer.from(encodeEnvelope("X", body(uid, floats))))).toBe(true);
        lease.release();
      }),
      { numRuns: 200 },
    );
  });

  it("never hands a live lease's buffer to another message; reuses it once released", () => {
    const live = Array.from({ length: 8 }, (_, i) => leaseEnvelope("X", body(`live-${i}`, 300)));
    const copies = live.map((l) => Uint8Array.from(l.bytes));
    for (let i = 0; i < 50; i++) leaseEnvelope("X", body(`other-${i}`, 300)).release();
    live.forEach((l, i) => expect(Buffer.compare(l.bytes, copies[i])).toBe(0));
    const before = leasePoolStats().buffers;
    live.forEach((l) => l.release());
    live.forEach((l) => l.release()); // a second release is a no-op, not a double entry
    expect(leasePoolStats().buffers).toBe(before + live.length);
    const again = leaseEnvelope("X", body("again", 300));
    expect(leasePoolStats().buffers).toBe(before + live.length - 1);
    expect((decodeEnvelope(again.bytes, "X").body as { uid: string }).uid).toBe("again");
  });

  it("grows past its buffer for a large message and sizes new buffers for it", () => {
    const big = body("big", 400_000); // 1.6 MB of floats: larger than any buffer pooled so far
    const lease = leaseEnvelope("X", big);
    const out = decodeEnvelope(lease.bytes, "X").body as typeof big;
    expect(Array.from(float32Of(out.lp).subarray(-2))).toEqual([-399_998 / 8, -399_999 / 8]);
    expect(leasePoolStats().sizeHint).toBeGreaterThanOrEqual(lease.bytes.byteLength);
    lease.release();
  });
});

describe("messages - structural validation", () => {
  const prompt = { uid: "u", runId: "r", task: "t", promptText: "1+1", promptIds: bytesOf(new Int32Array([1, 2])), answer: "2", groupSize: 2, cursor: 0n };
  const response = (lp: number[]) => ({ tokenIds: bytesOf(new Int32Array(lp.length)), logprobs: bytesOf(new Float32Array(lp)), truncated: false, text: "" });
  it("accepts a well-formed group", () => {
    expect(validateRolloutGroup({ uid: "g", prompt, responses: [response([-0.5])], policyVersion: 0n, actor: "a" })).toBeNull();
  });
  it("names NaN/Inf positions and length mismatches", () => {
    expect(validateRolloutGroup({ uid: "g", prompt, responses: [response([-0.5, NaN])], policyVersion: 0n, actor: "a" })).toMatch(/responses\[0\]\.logprobs\[1\] is NaN/);
    expect(validateRolloutGroup({ uid: "g", prompt, responses: [response([Infinity])], policyVersion: 0n, actor: "a" })).toMatch(/Infinity/);
    const bad = { ...response([-1]), tokenIds: bytesOf(new Int32Array(3)) };
    expect(validateRolloutGroup({ uid: "g", prompt, responses: [bad], policyVersion: 0n, actor: "a" })).toMatch(/1 entries for 3 tokens/);
    expect(validateRolloutGroup({ uid: "g", prompt: { ...prompt, groupSize: 0 }, responses: [response([0])], policyVersion: 0n, actor: "a" })).toMatch(/groupSize/);
    expect(validateRolloutGroup("nope")).toMatch(/not an object/);
  });
});

describe("messages - non-finite float32 scan", () => {
  /** The reference: every element through DataView.getFloat32, the scan this replaced. */
  function reference(bytes: Uint8Array): number {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i + 4 <= bytes.byteLength; i += 4) if (!Number.isFinite(dv.getFloat32(i, true))) return i / 4;
    return -1;
  }
  /** `bits` as little-endian float32 words, placed at byte offset `offset` (views at any alignment). */
  function words(bits: number[], offset: number): Uint8Array {
    const buf = new Uint8Array(offset + bits.length * 4);
    const dv = new DataView(buf.buffer);
    bits.forEach((b, i) => dv.setUint32(offset + i * 4, b >>> 0, true));
    return buf.subarray(offset);
  }

  it("finds NaN, +Inf and -Inf, and passes every finite extreme", () => {
    const finite = [0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x80000000, 0x00000000, 0x3f800000, 0x7f000000];
    expect(firstNonFiniteFloat32(words(finite, 1))).toBe(-1);
    for (const bad of [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0x7f800000, 0xff800000]) {
      expect(firstNonFiniteFloat32(words([...finite, bad, 0x7fc00000], 3))).toBe(finite.length);
    }
  });

  it("agrees with the DataView reference on random words at every alignment", () => {
    // Half the words have all exponent bits set, so non-finite values are common.
    const word = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0x7fffff }).chain((m) => fc.constantFrom((0x7f800000 | m) >>> 0, (0xff800000 | m) >>> 0)));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 40 }), fc.integer({ min: 0, max: 3 }), (bits, offset) => {
        const bytes = words(bits, offset);
        expect(firstNonFiniteFloat32(bytes)).toBe(reference(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("names the first non-finite log-prob of a group with its value", () => {
    const prompt = { uid: "u", runId: "r", task: "t", promptText: "", promptIds: bytesOf(new Int32Array([1])), answer: "", groupSize: 1, cursor: 0n };
    const lp = new Float32Array([-1, -2, -Infinity, NaN]);
    const response = { tokenIds: bytesOf(new Int32Array(4)), logprobs: bytesOf(lp), truncated: false, text: "" };
    const body = decodeEnvelope(encodeEnvelope("RolloutGroup", { uid: "g", prompt, responses: [response, response], policyVersion: 0n, actor: "a" }), "RolloutGroup").body;
    expect(validateRolloutGroup(body)).toBe("RolloutGroup.responses[0].logprobs[2] is -Infinity");
  });
});

describe("consume - inBatches", () => {
  it("groups what arrives within the linger and loses nothing in flight", async () => {
    const { inBatches } = await import("@lspo/bus");
    async function* source() {
      yield 1;
      yield 2;
      await new Promise((r) => setTimeout(r, 80));
      yield 3;
      yield 4;
      yield 5;
    }
    const out: number[][] = [];
    for await (const b of inBatches(source(), 2, 30)) out.push(b);
    expect(out).toEqual([[1, 2], [3, 4], [5]]);
    const slow: number[][] = [];
    async function* gaps() {
      for (const x of [1, 2, 3]) {
        await new Promise((r) => setTimeout(r, 60));
        yield x;
      }
    }
    for await (const b of inBatches(gaps(), 8, 10)) slow.push(b);
    expect(slow).toEqual([[1], [2], [3]]);
  });

  it("hands an item still in flight when the caller leaves to onLeft, so it can be given back", async () => {
    const { inBatches } = await import("@lspo/bus");
    async function* gaps() {
      for (const x of [1, 2, 3]) {
        await new Promise((r) => setTimeout(r, 40));
        yield x;
      }
    }
    const left: number[] = [];
    const got: number[][] = [];
    // The linger (10 ms) expires with item 2 in flight; the caller leaves after its first batch.
    for await (const b of inBatches(gaps(), 8, 10, (x) => left.push(x))) {
      got.push(b);
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([[1]]);
    expect(left).toEqual([2]);
  });
});

describe("codec - decoded bytes own their memory", () => {
  it("is unaffected when the input buffer is reused (as NATS reuses receive buffers)", () => {
    const wire = encodeEnvelope("X", { ids: bytesOf(new Int32Array([7, 8, 9])) });
    const input = new Uint8Array(wire.byteLength);
    input.set(wire);
    const body = decodeEnvelope(input, "X").body as { ids: Uint8Array };
    input.fill(0xff);
    expect(Array.from(int32Of(body.ids))).toEqual([7, 8, 9]);
  });
});
