import * as ort from "onnxruntime-node";
import { Graph } from "./src/graph/graph.ts";
import { encodeModel } from "./src/graph/serialize.ts";
const [N, hd, C] = [256, 64, 1024];
for (const dt of ["float32", "float16"] as const) {
  const g = new Graph("mm");
  const a = g.input("a", dt as never, [N, 1, hd]);
  const b = g.input("b", dt as never, [N, hd, C]);
  const c = g.node("MatMul" as never, [a, b], [{ dtype: dt as never, shape: [N, 1, C] }], {});
  g.output("c", c[0]);
  const s = await ort.InferenceSession.create(encodeModel(g), { executionProviders: ["cpu"], logSeverityLevel: 3, intraOpNumThreads: 2, optimizedModelFilePath: `/tmp/opt-${dt}.onnx` });
  const mk = (n: number) => dt === "float32" ? new ort.Tensor("float32", new Float32Array(n).fill(0.01), [n]) : new ort.Tensor("float16", new Uint16Array(n).fill(0x2000), [n]);
  const A = mk(N * hd).reshape([N, 1, hd]), B = mk(N * hd * C).reshape([N, hd, C]);
  for (let i = 0; i < 5; i++) await s.run({ a: A, b: B });
  const t = performance.now();
  for (let i = 0; i < 20; i++) await s.run({ a: A, b: B });
  console.log(dt, ((performance.now() - t) / 20).toFixed(2), "ms", (N * hd * C * (dt === "float32" ? 4 : 2) / 1e6).toFixed(0), "MB");
}
