// State kept on the execution provider's device between runs (DeviceTensor): the decoder's KV cache and
// weights, and the transfers in and out. Under the CPU provider "the device" is onnxruntime's own host memory,
// so this file runs the same code path WebGPU takes (providers.gpu.test.ts and bench/gpu run it on a GPU).
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { type LlamaConfig } from "../src/config.js";
import type { KvStore } from "../src/generate/decoder.js";
import { generate } from "../src/generate/generate.js";
import { Graph } from "../src/graph/graph.js";
import { ops } from "../src/graph/ops.js";
import { encodeModel } from "../src/graph/serialize.js";
import { initModel } from "../src/init.js";
import { SlotKvCache } from "../src/generate/slot-kv-cache.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { DeviceTensor } from "../src/runtime/device-tensor.js";
import { DeviceTransfer } from "../src/runtime/device-transfer.js";
import { OrtSession, SessionRunError } from "../src/runtime/session.js";

const tiny: LlamaConfig = {
  modelType: "llama", vocabSize: 40, hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 4, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: false,
  attentionBias: false, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
const weights = initModel(tiny, 5, { initializerRange: 0.4 });
const prompts = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14], [20], [21, 22, 23], [30, 31], [2, 3, 4, 5], [7]];

describe("device state - decoder with its KV cache and weights kept on the provider", () => {
  it("generates exactly what the host-cache decoder does, compacting finished rows on the device", async () => {
    const opts = { maxNewTokens: 20, sampling: { temperature: 1, topP: 1, topK: 0 }, seed: 11, stopTokenIds: [1, 2, 3, 4, 5, 6] };
    const host = await OnnxDecoder.create(tiny, weights);
    const device = await OnnxDecoder.create(tiny, weights, { keepOnDevice: true });
    expect(host.keepsStateOnDevice).toBe(false);
    expect(device.keepsStateOnDevice).toBe(true);
    // Count the row compactions the device cache runs (the generation loop drops rows once half have finished).
    const kept: number[] = [];
    const counted = {
      config: device.config,
      step: device.step.bind(device),
      openCache(B: number): KvStore {
        const c = device.openCache(B)!;
        const keepRows = c.keepRows.bind(c);
        c.keepRows = async (rows) => {
          kept.push(rows.length);
          await keepRows(rows);
        };
        return c;
      },
    };
    const want = await generate(host, prompts, opts);
    const got = await generate(counted, prompts, opts);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.truncated).toEqual(want.truncated);
    got.logprobs.forEach((row, i) => row.forEach((lp, j) => expect(lp).toBeCloseTo(want.logprobs[i][j], 5)));
    expect(kept.length).toBeGreaterThan(0); // the seed stops rows early enough to compact
    expect(new Set(want.tokens.map((t) => t.length)).size).toBeGreaterThan(2);
    await host.release();
    await device.release();
  });

  it("a weight swap takes effect at the next generation (same output as a fresh decoder on those weights)", async () => {
    const other = initModel(tiny, 9, { initializerRange: 0.4 });
    const dec = await OnnxDecoder.create(tiny, weights, { keepOnDevice: true });
    const before = await generate(dec, prompts, { maxNewTokens: 6 });
    await dec.setWeights(other);
    const fresh = await OnnxDecoder.create(tiny, other);
    const after = await generate(dec, prompts, { maxNewTokens: 6 });
    expect(after.tokens).toEqual((await generate(fresh, prompts, { maxNewTokens: 6 })).tokens);
    expect(after.tokens).not.toEqual(before.tokens);
    await dec.release();
    await fresh.release();
  });

  it("a device-cache decoder that returns the wrong cache gets an error naming it", async () => {
    const device = await OnnxDecoder.create(tiny, weights, { keepOnDevice: true });
    const host = await OnnxDecoder.create(tiny, weights);
    // A whole cache one step short: shapes are checked before the store takes it.
    const short = {
      config: tiny,
      openCache: (B: number) => device.openCache(B),
      step: async (input: Parameters<OnnxDecoder["step"]>[0]) => {
        const out = await device.step(input);
        return { ...out, cacheKeys: out.cacheKeys!.map((k) => new DeviceTensor("float32", [k.shape[0] - 1, ...k.shape.slice(1)], "cpu", k.ortValue())) };
      },
    };
    await expect(generate(short, prompts, { maxNewTokens: 2 })).rejects.toThrow(/decoder returned cacheKeys\[0\] of shape \[4,8,2,4\], expected \[5,8,2,4\]/);
    // Host slices handed to a device cache.
    const mixed = { config: tiny, openCache: (B: number) => device.openCache(B), step: host.step.bind(host) };
    await expect(generate(mixed, prompts, { maxNewTokens: 2 })).rejects.toThrow(/DeviceKvCache: the step returned no device cache/);
    await device.release();
    await host.release();
  });

  it("a host-cache decoder opens no device cache: host slots by default, the loop's time-major cache with kvCache concat", async () => {
    const dec = await OnnxDecoder.create(tiny, weights);
    expect(dec.kvCache).toBe("in-place");
    expect(dec.openCache(2)).toBeInstanceOf(SlotKvCache);
    const concat = await OnnxDecoder.create(tiny, weights, { kvCache: "concat" });
    expect(concat.kvCache).toBe("concat");
    expect(concat.openCache(2)).toBeNull();
    await Promise.all([dec.release(), concat.release()]);
    await expect(OnnxDecoder.create(tiny, weights, { keepOnDevice: true, kvCache: "in-place" })).rejects.toThrow(/kvCache "in-place" sets the layout of a host cache, but keepOnDevice/);
    await expect(OnnxDecoder.create(tiny, weights, { kvCache: "paged" as never })).rejects.toThrow(/kvCache must be "in-place" or "concat", got "paged"/);
  });
});

describe("device state - sessions, tensors and transfers", () => {
  const matmul = async (keep: string[]) => {
    const g = new Graph("mm");
    const y = ops.matmul(g.input("x", "float32", [2, 2]), g.input("w", "float32", [2, 2]));
    g.output("y", y);
    g.output("y2", ops.mul(y, 2));
    return OrtSession.create(encodeModel(g), { keepOnDevice: keep });
  };
  const x = { dtype: "float32" as const, shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) };

  it("uploads, feeds and downloads a DeviceTensor; a kept output feeds the next run", async () => {
    const t = new DeviceTransfer("cpu");
    const w = await t.upload({ dtype: "float32", shape: [2, 2], data: Float32Array.of(1, 0, 0, 1) });
    expect(w.shape).toEqual([2, 2]);
    const s = await matmul(["y"]);
    const { host, device } = await s.runKeep({ x, w }, ["y", "y2"]);
    expect(Array.from(host.y2.data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(device.y).toBeInstanceOf(DeviceTensor);
    const again = await s.run({ x: device.y, w }, ["y2"]);
    expect(Array.from(again.y2.data as Float32Array)).toEqual([2, 4, 6, 8]);
    expect(Array.from((await t.download(device.y)).data as Float32Array)).toEqual([1, 2, 3, 4]);
    await s.release();
    await t.release();
  });

  it("refuses keepOnDevice under cuda, saying why, before any session is made (nothing would stay on the GPU)", async () => {
    const g = new Graph("mm");
    g.output("y", ops.matmul(g.input("x", "float32", [2, 2]), g.input("w", "float32", [2, 2])));
    const made = OrtSession.create(encodeModel(g), { provider: "cuda", keepOnDevice: ["y"] });
    // This onnxruntime-node lists the cuda backend on linux/x64, so the check runs without a GPU.
    await expect(made).rejects.toThrow(SessionRunError);
    await expect(made).rejects.toThrow(/keepOnDevice \(y\) is not supported under the cuda provider: onnxruntime-node returns every output to the host/);
  });

  it("names the mistake: unknown kept output, fetching a kept output with run, a disposed or foreign DeviceTensor", async () => {
    await expect(matmul(["nope"])).rejects.toThrow(/keepOnDevice names unknown outputs: nope/);
    const s = await matmul(["y"]);
    const w = { dtype: "float32" as const, shape: [2, 2], data: Float32Array.of(1, 0, 0, 1) };
    await expect(s.run({ x, w }, ["y"])).rejects.toThrow(SessionRunError);
    await expect(s.run({ x, w }, ["y"])).rejects.toThrow(/outputs y stay on the device: fetch them with runKeep/);
    const { device } = await s.runKeep({ x, w }, ["y"]);
    device.y.dispose();
    expect(device.y.isDisposed).toBe(true);
    await expect(s.run({ x: device.y, w }, ["y2"])).rejects.toThrow(/was disposed/);
    const foreign = new DeviceTensor("float32", [2, 2], "webgpu", new ort.Tensor("float32", Float32Array.of(1, 2, 3, 4), [2, 2]));
    await expect(s.run({ x: foreign, w }, ["y2"])).rejects.toThrow(/DeviceTensor of the webgpu provider fed to a cpu session/);
    await s.release();
  });
});
