// Which fused kernels onnxruntime's CPU provider runs for our inference graphs. We write RMSNorm and SiLU from
// primitive ops (layers.ts: no gradient rules of their own, one graph for training and inference), and rely on
// onnxruntime's graph optimizer to replace them with its fused contrib kernels: SimplifiedLayerNormalization
// for every RMSNorm, QuickGelu (x * sigmoid(alpha x), alpha 1) for SiLU. That holds only while our op pattern
// is the one its fusions match; this test reads the optimized model onnxruntime writes and fails if a change to
// the builders (or to onnxruntime) leaves a norm or an activation decomposed.
// GroupQueryAttention is not among them, by choice: ort-output-copy.test.ts, beside this one, says why.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelProto } from "@lspo/proto";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { encodeModel } from "../src/graph/serialize.js";
import type { Graph } from "../src/graph/graph.js";
import { inferenceGraph, slotDecodeGraph } from "../src/llama/graphs.js";
import { TINY_QWEN2 } from "./support/tiny-qwen2.js";

const base: LlamaConfig = { ...TINY_QWEN2, numLayers: 3 };
const FAMILIES: Record<string, LlamaConfig> = {
  "qwen2": base,
  "qwen3 (q/k norm)": { ...base, modelType: "qwen3", attentionBias: false, qkNorm: true },
  "llama": { ...base, modelType: "llama", attentionBias: false, tieWordEmbeddings: false },
};
const GRAPHS: Record<string, (c: LlamaConfig) => Graph> = {
  "in-place decode step (slotDecodeGraph)": slotDecodeGraph,
  "prefill and concat decode (inferenceGraph)": (c) => inferenceGraph(c),
};

const dir = mkdtempSync(join(tmpdir(), "lspo-fused-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Op counts (domain:op) of the model onnxruntime runs after its optimizations at level "all". */
async function optimizedOps(g: Graph, file: string): Promise<Map<string, number>> {
  const path = join(dir, file);
  const session = await ort.InferenceSession.create(encodeModel(g), { graphOptimizationLevel: "all", optimizedModelFilePath: path, logSeverityLevel: 3 });
  await session.release();
  const counts = new Map<string, number>();
  for (const n of ModelProto.decode(readFileSync(path)).graph!.node) {
    const op = n.domain ? `${n.domain}:${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  return counts;
}

describe("onnxruntime's fused kernels in our inference graphs (CPU provider)", () => {
  for (const [family, cfg] of Object.entries(FAMILIES)) {
    for (const [what, build] of Object.entries(GRAPHS)) {
      it(`${family}, ${what}: every RMSNorm runs as SimplifiedLayerNormalization, every SiLU as QuickGelu`, async () => {
        const L = cfg.numLayers;
        // Per layer: the input and post-attention norms, plus Qwen3's norms of q and k; then the final norm.
        const norms = L * (cfg.qkNorm ? 4 : 2) + 1;
        const built = build(cfg);
        const before = new Map<string, number>();
        for (const n of built.nodes) before.set(n.op, (before.get(n.op) ?? 0) + 1);
        expect(before.get("Pow")).toBe(norms); // the decomposed form: one Pow per norm, the only Pow
        const ops = await optimizedOps(built, `${family}-${what}.onnx`.replace(/[^A-Za-z0-9.-]+/g, "_"));
        expect(ops.get("SimplifiedLayerNormalization")).toBe(norms);
        expect(ops.get("com.microsoft:QuickGelu")).toBe(L);
        // Nothing of the decomposed norm or activation is left.
        for (const gone of ["Pow", "Sqrt", "Div", "ReduceMean", "Sigmoid"]) expect(ops.get(gone) ?? 0, gone).toBe(0);
      });
    }
  }
});
