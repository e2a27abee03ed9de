import { describe, expect, it } from "vitest";
import { DecodeError, SCHEMA_VERSION, bytesOf, decodeEnvelope, encodeEnvelope, float32Of, int32Of, validateRolloutGroup } from "@lspo/bus";
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
});
