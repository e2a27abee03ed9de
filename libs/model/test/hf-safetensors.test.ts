import { describe, expect, it } from "vitest";
import { concatParts, decodeEntry, parseSafetensors, safetensorsParts, serializeSafetensors, SafetensorsError } from "../src/hf/safetensors.js";
import { type Tensor, tensor } from "../src/tensor.js";
import { fixtureBytes } from "./support/fixture.js";

/** A safetensors file from a raw header object and data bytes (to build malformed files). */
function rawFile(header: unknown, data = new Uint8Array(0), headerText?: string): Uint8Array {
  const h = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32 = (name: string, n: number, begin: number) => ({ [name]: { dtype: "F32", shape: [n], data_offsets: [begin, begin + 4 * n] } });

describe("safetensors - round trip", () => {
  it("writes and reads back every dtype with shapes, values and metadata", () => {
    const tensors: Array<[string, Tensor]> = [
      ["a.f32", tensor("float32", [2, 3], Float32Array.from([1.5, -2, 3e-8, 0, Infinity, -0]))],
      ["b.f64", tensor("float64", [2], Float64Array.from([Math.PI, -1e300]))],
      ["c.i64", tensor("int64", [3], BigInt64Array.from([0n, -9007199254740993n, 42n]))],
      ["d.i32", tensor("int32", [1, 2], Int32Array.from([-7, 2147483647]))],
      ["e.bool", tensor("bool", [3], Uint8Array.from([1, 0, 1]))],
      ["f.empty", tensor("float32", [0, 4], new Float32Array(0))],
    ];
    const bytes = serializeSafetensors(tensors, { format: "pt" });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: "pt" });
    for (const [name, t] of tensors) {
      const back = decodeEntry(file.tensors.get(name)!);
      expect(back.dtype, name).toBe(t.dtype);
      expect(back.shape, name).toEqual(t.shape);
      expect(Array.from(back.data as ArrayLike<unknown>), name).toEqual(Array.from(t.data as ArrayLike<unknown>));
      // every tensor starts aligned to its element width within the data buffer
      const e = file.tensors.get(name)!;
      expect((e.bytes.byteOffset - 8 - headerLen) % (t.data as Float32Array).BYTES_PER_ELEMENT).toBe(0);
    }
  });

  it("reads from an unaligned view into a larger buffer", () => {
    const bytes = serializeSafetensors([["x", tensor("float32", [3], Float32Array.from([1, 2, 3]))]]);
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const t = decodeEntry(parseSafetensors(big.subarray(3)).tensors.get("x")!);
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it("widens F16 and BF16 to float32 exactly", () => {
    const f16 = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555]);
    const bf16 = Uint16Array.from([0x3f80, 0xc040, 0x0001, 0x7f80]);
    const data = new Uint8Array(f16.byteLength + bf16.byteLength);
    data.set(new Uint8Array(bf16.buffer), 0);
    data.set(new Uint8Array(f16.buffer), bf16.byteLength);
    const file = parseSafetensors(rawFile({
      h: { dtype: "BF16", shape: [4], data_offsets: [0, 8] },
      g: { dtype: "F16", shape: [8], data_offsets: [8, 24] },
    }, data));
    const g = decodeEntry(file.tensors.get("g")!);
    expect(g.dtype).toBe("float32");
    expect(Array.from(g.data as Float32Array)).toEqual([1, -2, 2 ** -24, 65504, Infinity, -Infinity, NaN, 0.333251953125]);
    const h = decodeEntry(file.tensors.get("h")!);
    expect(Array.from(h.data as Float32Array)).toEqual([1, -3, 2 ** -133, Infinity]);
  });
});

describe("safetensors - malformed files are refused with the problem named", () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["shorter than 8 bytes", new Uint8Array(5), /shorter than the 8-byte header length/],
    ["header length past the end", (() => { const b = rawFile({}); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /header length 1000 runs past the end/],
    ["absurd header length", (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true); return b; })(), /exceeds the 100000000-byte limit/],
    ["header not JSON", rawFile(null, undefined, "{not json"), /header is not valid UTF-8 JSON/],
    ["header not an object", rawFile(null, undefined, "[1,2]"), /does not start with '\{'/],
    ["invalid UTF-8", rawFile(null, undefined, "{\"\uFFFD\":1}").map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8 JSON/],
    ["missing dtype", rawFile({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'w': missing 'dtype'/],
    ["missing data_offsets", rawFile({ w: { dtype: "F32", shape: [1] } }, new Uint8Array(4)), /tensor 'w': missing 'data_offsets'/],
    ["unknown dtype", rawFile({ w: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor 'w': dtype "F8_E4M3" is not supported \(supported: F64, F32, F16, BF16, I64, I32, BOOL\)/],
    ["negative dim", rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'w': shape \[-1\] must be an array of non-negative integers/],
    ["size mismatch", rawFile({ w: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'w': F32 \[2\] needs 8 bytes but data_offsets \[0, 4\] span 4/],
    ["end before begin", rawFile({ w: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /end before they begin/],
    ["hole", rawFile({ ...f32("a", 1, 0), ...f32("b", 1, 8) }, new Uint8Array(12)), /tensor 'b' starts at byte 8 but the previous tensor ends at 4 \(a hole/],
    ["overlap", rawFile({ ...f32("a", 2, 0), ...f32("b", 1, 4) }, new Uint8Array(8)), /tensor 'b' starts at byte 4, overlapping the previous tensor that ends at 8/],
    ["truncated data", rawFile({ ...f32("a", 4, 0) }, new Uint8Array(8)), /truncated: tensor 'a' needs file bytes \[\d+, \d+\) but the file ends at byte \d+ \(tensors need 16 data bytes, the file holds 8\)/],
    ["trailing bytes", rawFile({ ...f32("a", 1, 0) }, new Uint8Array(6)), /2 trailing bytes not covered by any tensor/],
    ["non-string metadata", rawFile({ __metadata__: { format: 1 } }), /'__metadata__.format' must be a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      expect(() => parseSafetensors(bytes, "bad.safetensors")).toThrow(SafetensorsError);
      expect(() => parseSafetensors(bytes, "bad.safetensors")).toThrow(message);
      expect(() => parseSafetensors(bytes, "bad.safetensors")).toThrow(/^bad\.safetensors: /);
    });
  }

  it("refuses to write duplicate or reserved names and data that does not fit its shape", () => {
    const t = tensor("float32", [1], new Float32Array(1));
    expect(() => serializeSafetensors([["a", t], ["a", t]])).toThrow(/tensor 'a' appears twice/);
    expect(() => serializeSafetensors([["__metadata__", t]])).toThrow(/'__metadata__' is reserved/);
    expect(() => serializeSafetensors([["a", { dtype: "float32", shape: [3], data: new Float32Array(2) }]])).toThrow(/shape \[3\] needs 3 elements, data has 2/);
  });
});

describe("safetensors - transformers' own files", () => {
  it("parses model.safetensors and re-serialises it byte for byte", () => {
    const bytes = fixtureBytes("model.safetensors");
    const file = parseSafetensors(bytes, "model.safetensors");
    expect(file.metadata).toEqual({ format: "pt" });
    expect(file.tensors.size).toBe(21);
    expect(file.tensors.get("model.layers.0.self_attn.k_proj.weight")).toMatchObject({ dtype: "F32", shape: [32, 64] });
    const again = serializeSafetensors([...file.tensors].map(([n, e]) => [n, decodeEntry(e)] as const), file.metadata);
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it("decodes reference.safetensors' int64 input_ids", () => {
    const file = parseSafetensors(fixtureBytes("reference.safetensors"));
    const ids = decodeEntry(file.tensors.get("input_ids")!);
    expect(ids.dtype).toBe("int64");
    expect(ids.shape).toEqual([3, 16]);
    for (const v of ids.data as BigInt64Array) expect(v >= 0n && v < 384n).toBe(true);
  });
});


describe("safetensors - bf16 storage", () => {
  it("narrows float32 to bf16 rounding to nearest, ties to even (as torch does), and reads back exactly those values", () => {
    const bitsOf = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0];
    const fromBits = (b: number) => new Float32Array(Uint32Array.of(b).buffer)[0];
    // [input, the bf16 it becomes, as float32 bits]
    const cases: Array<[number, number]> = [
      [1, 0x3f800000],
      [fromBits(0x3f808000), 0x3f800000], // a tie, the kept low bit even: down
      [fromBits(0x3f818000), 0x3f820000], // a tie, the kept low bit odd: up
      [fromBits(0x3f808001), 0x3f810000], // just above the tie: up
      [fromBits(0xbf80ffff), 0xbf810000], // negative, past halfway: away from zero
      [Math.PI, 0x40490000], // 3.140625
      [Infinity, 0x7f800000],
      [-Infinity, 0xff800000],
      [0, 0],
    ];
    const w = { dtype: "float32" as const, shape: [cases.length], data: Float32Array.from(cases.map(([x]) => x)) };
    const nan = { dtype: "float32" as const, shape: [1], data: Float32Array.of(NaN) };
    const file = parseSafetensors(concatParts(safetensorsParts([["w", w], ["nan", nan]], null, { float32As: "BF16" })), "bf16");
    expect(file.tensors.get("w")!.dtype).toBe("BF16");
    expect(file.tensors.get("w")!.bytes.byteLength).toBe(cases.length * 2);
    expect([...(decodeEntry(file.tensors.get("w")!).data as Float32Array)].map(bitsOf)).toEqual(cases.map(([, b]) => b >>> 0));
    expect(Number.isNaN((decodeEntry(file.tensors.get("nan")!).data as Float32Array)[0])).toBe(true);
    // Without the option, float32 stays F32.
    expect(parseSafetensors(serializeSafetensors([["w", w]]), "f32").tensors.get("w")!.dtype).toBe("F32");
  });
});
