// Graph builder, ONNX serialisation and the onnxruntime runner.
import { ModelProto } from "@lspo/proto";
import { describe, expect, it } from "vitest";
import { Graph, GraphError } from "../src/graph/graph.js";
import * as E from "../src/graph/ops-elementwise.js";
import * as L from "../src/graph/ops-linalg.js";
import * as Y from "../src/graph/ops-layout.js";
import { encodeModel, OPSET } from "../src/graph/serialize.js";
import { ProviderUnavailableError } from "../src/runtime/providers.js";
import { OrtSession, SessionRunError } from "../src/runtime/session.js";
import { rng } from "./support/fd.js";

const f32 = (shape: number[], data: number[]) => ({ dtype: "float32" as const, shape, data: Float32Array.from(data) });

describe("graph - serialisation and run", () => {
  it("graph - a linear layer + softmax runs in onnxruntime and matches a JS reference", async () => {
    const g = new Graph("lin");
    const x = g.input("x", "float32", ["N", 3]);
    const w = g.constant(f32([3, 2], [0.5, -1, 2, 0.25, -0.5, 1]), "w");
    const b = g.constant(f32([2], [0.1, -0.2]), "b");
    g.output("y", L.softmax(E.add(L.matmul(x, w), b), -1));
    const s = await OrtSession.create(encodeModel(g));
    const xs = [1, 2, 3, -1, 0, 4];
    const y = (await s.run({ x: f32([2, 3], xs) })).y;
    expect(y.shape).toEqual([2, 2]);
    for (let n = 0; n < 2; n++) {
      const z = [0, 1].map((j) => [0, 1, 2].reduce((acc, k) => acc + xs[n * 3 + k] * [0.5, -1, 2, 0.25, -0.5, 1][k * 2 + j], [0.1, -0.2][j]));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const ref = e.map((v) => v / (e[0] + e[1]));
      expect(y.data[n * 2]).toBeCloseTo(ref[0], 6);
      expect(y.data[n * 2 + 1]).toBeCloseTo(ref[1], 6);
    }
  });

  it("graph - symbolic dims resolve at run time (reshape to heads and back, for two batch shapes)", async () => {
    const g = new Graph("heads");
    const x = g.input("x", "float32", ["B", "T", 6]);
    const h = Y.reshape(x, ["B", "T", 2, 3]); // [B,T,H,hd]
    expect(h.shape).toEqual(["B", "T", 2, 3]);
    const t = Y.transpose(h, [0, 2, 1, 3]); // [B,H,T,hd]
    const back = Y.reshape(Y.transpose(E.mul(t, 2), [0, 2, 1, 3]), [0, 0, -1]); // [B,T,6]
    expect(back.shape).toEqual(["B", "T", 6]);
    g.output("y", back);
    const s = await OrtSession.create(encodeModel(g));
    const rand = rng(3);
    for (const [B, T] of [[1, 2], [3, 5]]) {
      const data = Array.from({ length: B * T * 6 }, () => rand());
      const y = (await s.run({ x: f32([B, T, 6], data) })).y;
      expect(y.shape).toEqual([B, T, 6]);
      expect(Array.from(y.data as Float32Array)).toEqual(Array.from(Float32Array.from(data, (v) => Math.fround(v) * 2)));
    }
  });

  it("graph - the bytes are an ONNX ModelProto with opset 18 and raw initializers", () => {
    const g = new Graph("p");
    const x = g.input("x", "float32", ["N", 2]);
    g.output("y", E.add(x, g.constant(f32([2], [1.5, -2]), "bias")));
    const m = ModelProto.decode(encodeModel(g));
    expect(m.irVersion).toBe(8n);
    expect(m.opsetImport).toEqual([{ domain: "", version: BigInt(OPSET) }]);
    expect(m.graph?.input[0].type?.value?.$case).toBe("tensorType");
    const init = m.graph!.initializer[0];
    expect(init.dataType).toBe(1);
    expect(Array.from(new Float32Array(init.rawData.buffer.slice(init.rawData.byteOffset, init.rawData.byteOffset + 8)))).toEqual([1.5, -2]);
    expect(m.graph!.node.map((n) => n.opType)).toEqual(["Add", "Identity"]);
  });

  it("graph - nodes and constants no output depends on are not written", () => {
    const g = new Graph("dead");
    const x = g.input("x", "float32", [2]);
    E.exp(E.mul(x, 7)); // dead
    g.output("y", E.add(x, 1));
    const m = ModelProto.decode(encodeModel(g));
    expect(m.graph!.node.map((n) => n.opType)).toEqual(["Add", "Identity"]);
    expect(m.graph!.initializer).toHaveLength(1);
    expect(m.graph!.input.map((i) => i.name)).toEqual(["x"]);
  });
});

describe("graph - build-time checks", () => {
  const g = new Graph("checks");
  const a = g.input("a", "float32", [2, 3]);
  const b = g.input("b", "float32", [4, 5]);
  it("graph - MatMul names both shapes when the inner dims differ", () => {
    expect(() => L.matmul(a, b)).toThrow(/MatMul: inner dim of a: float32\[2,3\] @ b: float32\[4,5\] is 3, expected 4/);
  });
  it("graph - broadcasting mismatches are refused", () => {
    expect(() => E.add(a, b)).toThrow(/Add: shapes \[2,3\] and \[4,5\] do not broadcast/);
  });
  it("graph - reshape element counts are checked", () => {
    expect(() => Y.reshape(a, [4, 2])).toThrow(/Reshape: cannot reshape/);
  });
  it("graph - transpose needs a permutation", () => {
    expect(() => Y.transpose(a, [0, 0])).toThrow(/not a permutation/);
  });
  it("graph - concat checks the other axes", () => {
    expect(() => Y.concat([a, b], 0)).toThrow(/Concat: axis 1/);
  });
  it("graph - dtypes must agree", () => {
    const i = g.input("i", "int64", [2, 3]);
    expect(() => E.add(a, i as never)).toThrow(/dtypes differ/);
  });
  it("graph - names are unique", () => {
    expect(() => g.input("a", "float32", [1])).toThrow(/name 'a' is already used/);
  });
  it("graph - a symbolic dim no input declares cannot be resolved", () => {
    expect(() => g.dim("Q")).toThrow(/symbolic dim 'Q' comes from no graph input/);
  });
  it("graph - values of another graph are refused", () => {
    const other = new Graph("other").input("z", "float32", [2, 3]);
    expect(() => E.add(a, other)).toThrow(GraphError);
  });
});

describe("session - errors name what is wrong", () => {
  it("session - missing and unknown inputs and outputs", async () => {
    const g = new Graph();
    const x = g.input("x", "float32", [2]);
    g.output("y", E.exp(x));
    const s = await OrtSession.create(encodeModel(g));
    await expect(s.run({})).rejects.toThrow(/missing inputs: x/);
    await expect(s.run({ x: f32([2], [1, 2]), z: f32([1], [0]) })).rejects.toThrow(/unknown inputs: z/);
    await expect(s.run({ x: f32([2], [1, 2]) }, ["q"])).rejects.toThrow(SessionRunError);
  });

  it("session - owned with `await using`: released at the end of the block", async () => {
    const g = new Graph();
    g.output("y", E.exp(g.input("x", "float32", [1])));
    let kept: OrtSession;
    {
      await using s = await OrtSession.create(encodeModel(g));
      kept = s;
      expect((await s.run({ x: f32([1], [0]) })).y.data[0]).toBe(1);
    }
    await expect(kept.run({ x: f32([1], [0]) })).rejects.toThrow();
  });

  it("providers - cuda without its binaries names what to install", async () => {
    const g = new Graph();
    g.output("y", E.exp(g.input("x", "float32", [2])));
    const err = await OrtSession.create(encodeModel(g), { provider: "cuda" }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toMatch(/execution provider 'cuda' is unavailable: it needs onnxruntime-node's CUDA EP binaries/);
    expect(err.message).toMatch(/--onnxruntime-node-install=cuda12/);
  });

  it("providers - webgpu without an adapter says so; unknown names list the valid ones", async () => {
    const g = new Graph();
    g.output("y", E.exp(g.input("x", "float32", [2])));
    const err = await OrtSession.create(encodeModel(g), { provider: "webgpu" }).catch((e) => e);
    // On a machine with a GPU adapter this would succeed; this machine (and CI) has none.
    if (err instanceof Error) expect(err.message).toMatch(/execution provider 'webgpu' is unavailable: it needs a WebGPU-capable GPU adapter/);
    else await err.release();
    await expect(OrtSession.create(encodeModel(g), { provider: "tpu" as never })).rejects.toThrow(/unknown execution provider 'tpu'; valid: cpu, cuda, webgpu/);
  });
});
