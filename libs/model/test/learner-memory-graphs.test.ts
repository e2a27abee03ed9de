// The learner's memory-saving graphs (issue 16) against the plain ones: activation recompute, log-probs at the
// scored positions only, the vocabulary-chunked log-softmax and the additive causal bias give the same
// log-probs and gradients, to 1e-6 relative.
import { describe, expect, it } from "vitest";
import { backward } from "../src/autodiff/backward.js";
import type { LlamaConfig } from "../src/config.js";
import { Graph, type Value } from "../src/graph/graph.js";
import * as E from "../src/graph/ops-elementwise.js";
import * as L from "../src/graph/ops-linalg.js";
import { encodeModel, liveNodes } from "../src/graph/serialize.js";
import { initModel } from "../src/init.js";
import { makeTokenBatch, type TokenBatch } from "../src/llama/batch.js";
import { type LossBuilder, trainingGraph } from "../src/llama/graphs.js";
import { attentionBias, MASKED } from "../src/llama/layers.js";
import { vocabChunks } from "../src/llama/logprobs.js";
import { OrtSession } from "../src/runtime/session.js";
import { ForwardSession, GradientSession } from "../src/runtime/train-session.js";
import type { Tensor } from "../src/tensor.js";
import { rng } from "./support/fd.js";

const cfg: LlamaConfig = {
  modelType: "qwen2", vocabSize: 53, hiddenSize: 32, intermediateSize: 48, numLayers: 3, numHeads: 4, numKvHeads: 2, headDim: 8,
  rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 64, tieWordEmbeddings: true, attentionBias: true, qkNorm: false,
  bosTokenId: null, eosTokenIds: [], padTokenId: null,
};
const weights = initModel(cfg, 7, { initializerRange: 0.2 });

/** Sum of log p over response tokens times a per-row advantage, entropy as a metric: a policy-gradient loss. */
const loss: LossBuilder = (c) => {
  const adv = c.input("advantages", "float32", [c.dims.B, 1]);
  const mask = c.input("loss_mask", "float32", [c.dims.B, c.dims.T]);
  const pg = L.sumAll(E.mul(E.mul(c.logprobs, mask), adv));
  return { loss: E.neg(pg), metrics: { entropy: L.sumAll(E.mul(c.entropy(), mask)) } };
};

/** Three prompt + response rows, right-padded, scoring the response positions; temperatures 1, 0.7, 1.3. */
function batch(scoreResponses: boolean): TokenBatch {
  const prompts = [[1, 5, 9], [2, 7], [3, 4, 8, 11]];
  const responses = [[12, 40, 6, 52], [30, 31], [17, 18, 19]];
  const b = makeTokenBatch(prompts.map((p, i) => [...p, ...responses[i]]), { padSide: "right" });
  const [B, T] = b.inputIds.shape;
  const mask = new Float32Array(B * T);
  const score = new BigInt64Array(B * T);
  prompts.forEach((p, r) => {
    // Position t predicts token t+1: the response tokens are predicted from p.length-1 on.
    for (let t = p.length - 1; t < p.length - 1 + responses[r].length; t++) {
      mask[r * T + t] = 1;
      score[r * T + t] = 1n;
    }
  });
  return {
    ...b,
    temperature: [1, 0.7, 1.3],
    ...(scoreResponses ? { scoreMask: { dtype: "int64", shape: [B, T], data: score } as Tensor<"int64"> } : {}),
    extras: {
      advantages: { dtype: "float32", shape: [B, 1], data: Float32Array.of(0.5, -1.2, 2) },
      loss_mask: { dtype: "float32", shape: [B, T], data: mask },
    },
  };
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  const scale = Math.max(...Array.from(b, Math.abs), 1e-30);
  let worst = 0;
  a.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - b[i]) / scale)));
  return worst;
}

async function gradients(options: { recompute?: boolean }, scoreResponses: boolean) {
  const s = await GradientSession.create(cfg, loss, options);
  try {
    return await s.run(weights, batch(scoreResponses));
  } finally {
    await s.release();
  }
}

describe("learner graphs that save memory give today's numbers", () => {
  it("a tied embedding's gradient: the lookup's rows are scattered into the head's gradient, no zero-filled [V, D]", () => {
    const g = trainingGraph(cfg, loss).graph;
    const vd = `${cfg.vocabSize},${cfg.hiddenSize}`;
    const nodes = liveNodes(g).nodes;
    expect(nodes.filter((n) => n.op === "ConstantOfShape" && n.outputs[0].shape.join(",") === vd)).toEqual([]);
    const scatters = nodes.filter((n) => n.op === "ScatterND" && n.outputs[0].shape.join(",") === vd);
    expect(scatters.length).toBe(1);
    expect(g.producer(scatters[0].inputs[0]!)?.op).toBe("Gemm"); // into the head's weight gradient
  });

  it("recompute alone: bit for bit the same loss and gradients", async () => {
    const [plain, re] = [await gradients({}, false), await gradients({ recompute: true }, false)];
    expect(re.loss).toBe(plain.loss);
    for (const [name, g] of plain.grads) expect(re.grads.get(name)!.data, name).toEqual(g.data);
  });

  it("recompute and scored positions: the same loss, metrics and every gradient to 1e-6", async () => {
    const plain = await gradients({}, false);
    expect(Math.abs(plain.loss)).toBeGreaterThan(1); // a loss that moves the weights
    for (const [options, scored] of [[{ recompute: true }, false], [{}, true], [{ recompute: true }, true]] as const) {
      const other = await gradients(options, scored);
      const what = `${JSON.stringify(options)} scored=${scored}`;
      expect(Math.abs(other.loss - plain.loss) / Math.abs(plain.loss), what).toBeLessThan(1e-6);
      expect(Math.abs(other.metrics.entropy.data[0] - plain.metrics.entropy.data[0]) / Math.abs(plain.metrics.entropy.data[0]), what).toBeLessThan(1e-6);
      for (const [name, g] of plain.grads) {
        expect(maxRelative(other.grads.get(name)!.data as Float32Array, g.data as Float32Array), `${what} ${name}`).toBeLessThan(1e-6);
      }
    }
  });

  it("recompute: the backward pass reads no value a layer made, only the layers' inputs; copies wait on a gradient", () => {
    const t = trainingGraph(cfg, loss, "float32", { recompute: true });
    const g = t.graph;
    expect(t.recomputed.length).toBe(cfg.numLayers);
    const lossAt = g.nodes.findIndex((n) => n.outputs.some((o) => o.name === g.outputs.find((x) => x.name === "loss")!.value.name));
    const madeInSpan = new Set(t.recomputed.flatMap((s) => g.nodes.slice(s.start, s.end).flatMap((n) => n.outputs.map((o) => o.name))));
    // A layer's output is the next layer's input (kept); the last one feeds the final norm. (Shapes, int64
    // values of a few bytes that a layer happens to compute first, are shared.)
    const kept = new Set([...t.recomputed.map((s) => s.input.name), ...[...madeInSpan].filter((v) => g.nodes.slice(0, lossAt + 1).some((n) => n.op === "Pow" && n.inputs[0]?.name === v && !madeInSpan.has(n.outputs[0].name)))]);
    const live = new Set(liveNodes(g).nodes);
    const readLate = g.nodes.slice(lossAt + 1).filter((n) => live.has(n)).flatMap((n) => n.inputs.filter((v): v is Value => !!v && v.dtype === "float32" && madeInSpan.has(v.name) && !kept.has(v.name)));
    expect(readLate.map((v) => v.name)).toEqual([]);
    // Each copy's input is x + 0 * (an element of a gradient): made after the loss, so after the forward pass.
    const zeroTimes = (v: Value | null) => !!v && g.producer(v)?.op === "Mul" && g.producer(v)!.inputs.some((u) => u && g.initializers.get(u.name)?.data[0] === 0);
    const waits = liveNodes(g).nodes.filter((n) => n.op === "Add" && zeroTimes(n.inputs[1]));
    expect(waits.length).toBe(t.recomputed.length);
    for (const w of waits) expect(g.nodes.indexOf(w)).toBeGreaterThan(lossAt);
    // ...and a layer's copy waits for every weight gradient of the layer after it (its last one included), so
    // that layer's copy is done with before the next is made.
    const ancestors = (v: Value): Set<string> => {
      const seen = new Set<string>();
      const todo = [v];
      while (todo.length) {
        const x = todo.pop()!;
        if (seen.has(x.name)) continue;
        seen.add(x.name);
        for (const u of g.producer(x)?.inputs ?? []) if (u) todo.push(u);
      }
      return seen;
    };
    for (let i = 0; i < cfg.numLayers - 1; i++) {
      const wait = waits.find((w) => w.inputs[0]?.name === t.recomputed[i].input.name)!;
      const before = ancestors(wait.outputs[0]);
      for (const w of ["self_attn.q_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight"]) {
        // The graph output is an Identity of the gradient the backward pass made.
        const out = g.outputs.find((o) => o.name === `grad.model.layers.${i + 1}.${w}`)!.value;
        const made = g.nodes.find((n) => n.outputs[0]?.name === out.name)!.inputs[0]!;
        expect(before.has(made.name), `layer ${i}'s copy waits for layer ${i + 1}'s ${w} gradient`).toBe(true);
      }
    }
  });

  it("log-probs at the scored positions equal the whole batch's there and read 0 elsewhere; chunks change nothing", async () => {
    const whole = await ForwardSession.create(cfg);
    const chunked = await ForwardSession.create(cfg, { vocabChunk: 10 });
    try {
      const all = (await whole.logprobs(weights, batch(false))).data;
      const some = (await chunked.logprobs(weights, batch(true))).data;
      const score = batch(true).scoreMask!.data;
      let checked = 0;
      score.forEach((s, i) => {
        if (s === 0n) expect(some[i]).toBe(0);
        else {
          expect(Math.abs(some[i] - all[i])).toBeLessThan(1e-6 * Math.abs(all[i]));
          checked++;
        }
      });
      expect(checked).toBe(9);
      // And against the raw logits: log softmax(z / T) at the target.
      const logits = (await whole.logits(weights, batch(false))).data;
      const b = batch(false);
      const [, T] = b.inputIds.shape;
      const V = cfg.vocabSize;
      for (const i of [0, T + 1, 2 * T + 3]) {
        const inv = 1 / b.temperature![Math.floor(i / T)];
        const z = Array.from(logits.subarray(i * V, (i + 1) * V), (x) => x * inv);
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0));
        expect(all[i]).toBeCloseTo(z[Number(b.targets.data[i])] - lse, 5);
      }
    } finally {
      await whole.release();
      await chunked.release();
    }
  });

  it("vocabulary chunks cover the vocabulary once; a bad chunk size is named", () => {
    expect(vocabChunks(53, 16)).toEqual([16, 16, 16, 5]);
    expect(vocabChunks(53, 0)).toEqual([53]);
    expect(vocabChunks(53, 100)).toEqual([53]);
    expect(() => vocabChunks(53, 2.5)).toThrow(/vocabChunk must be a non-negative integer, got 2.5/);
  });
});

describe("additive causal bias", () => {
  /** softmax over keys of scores masked by select (the former 5-D Where) or by the additive bias, and the gradient
   *  of sum(probs * up) where `up` is 0 at padding queries (as in the model: nothing reads their outputs). */
  async function attention(kind: "select" | "bias", mask: number[], B: number, T: number, seed: number) {
    const g = new Graph();
    const s = g.input("s", "float32", [B, 2, 2, T, T]);
    const up = g.input("up", "float32", [B, 2, 2, T, T]);
    const m = g.constant({ dtype: "int64", shape: [B, T], data: BigInt64Array.from(mask, BigInt) });
    const bias = attentionBias(m, T, "float32");
    const masked: Value<"float32"> = kind === "bias" ? E.add(s, bias) : E.where(E.equal(bias, 0), s, MASKED);
    const probs = L.softmax(masked, -1);
    const [gs] = backward(L.sumAll(E.mul(probs, up)), [s]);
    g.output("probs", probs);
    g.output("gs", gs);
    const r = rng(seed);
    const n = B * 4 * T * T;
    const upData = Float32Array.from({ length: n }, () => r() * 2 - 1);
    // Zero the upstream gradient of padding queries (query t of row b where mask[b, t] = 0).
    for (let i = 0; i < n; i++) {
      const t = Math.floor(i / T) % T;
      const b = Math.floor(i / (4 * T * T));
      if (mask[b * T + t] === 0) upData[i] = 0;
    }
    const session = await OrtSession.create(encodeModel(g));
    try {
      const out = await session.run({ s: { dtype: "float32", shape: [B, 2, 2, T, T], data: Float32Array.from({ length: n }, () => r() * 8 - 4) }, up: { dtype: "float32", shape: [B, 2, 2, T, T], data: upData } });
      return { probs: out.probs.data as Float32Array, gs: out.gs.data as Float32Array };
    } finally {
      await session.release();
    }
  }

  it("gives the 5-D select's probabilities and score gradients (left and right padding) to 1e-6", async () => {
    for (const mask of [[0, 0, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]]) {
      const [a, b] = [await attention("select", mask, 2, 5, 3), await attention("bias", mask, 2, 5, 3)];
      // Probabilities of real queries (padding queries' rows are read by nothing).
      const T = 5;
      for (let i = 0; i < a.probs.length; i++) {
        const t = Math.floor(i / T) % T;
        const row = Math.floor(i / (4 * T * T));
        if (mask[row * T + t] === 1) expect(Math.abs(a.probs[i] - b.probs[i])).toBeLessThan(1e-6);
      }
      expect(maxRelative(b.gs, a.gs)).toBeLessThan(1e-6);
      expect(Math.max(...Array.from(a.gs, Math.abs))).toBeGreaterThan(1e-3);
    }
  });
});
