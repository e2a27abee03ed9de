// `npm run bench -- model-scale [--size real|tiny] [--part all|load|train] [--torch on|off] [--keep <dir>]`
// (issue 16), two parts, each of its own processes:
// - load (bench/lib/model-scale-load.ts): a Qwen2.5-1.5B-shaped model (hidden 1536, 28 layers, 12 / 2 heads,
//   intermediate 8960, vocab 151,936, tied embeddings) initialised by `lspo model init --hf-config` as one bf16
//   file and as fp32 shards, each generating 16 tokens, then one version published by the learner's
//   WeightsPublisher in shards and followed by a rollout actor's WeightsFollower; each step's time and peak RSS.
// - train (bench/lib/model-scale-train.ts): a Qwen2.5-0.5B-shaped model (hidden 896, 24 layers, 14 / 2 heads,
//   intermediate 4864, same vocabulary, rope_theta 1e6) trained end to end by `lspo train` with DAPO, 2 steps of
//   4 prompts x G = 4 and 128 new tokens with 1 rollout actor, weights published and checkpointed every step,
//   then resumed for 1 more: the learner's and the rollout actor's peak RSS beside the memory model, tokens/s
//   of generation and of the training step beside PyTorch CPU eager on the same shapes.
// `--size tiny` runs the same steps on a small model with the same vocabulary (a smoke form, about a minute).
// Writes bench/results/model-scale.json (model-scale-tiny.json; a single part adds `-load` / `-train`, so a
// part run alone never stands in for the whole). A failed part exits non-zero with its error, writing nothing.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startProvenance } from "@lspo/telemetry";
import { machine } from "./lib/stats.js";
import { loadPart } from "./lib/model-scale-load.js";
import { shapesFor, type Size } from "./lib/model-scale-shapes.js";
import { trainPart } from "./lib/model-scale-train.js";

const provenance = startProvenance({ ignore: /^bench\/results\// });
const { values } = parseArgs({
  options: {
    size: { type: "string", default: "real" },
    part: { type: "string", default: "all" },
    torch: { type: "string", default: "on" },
    keep: { type: "string" },
  },
});
const size = values.size as Size;
if (!["real", "tiny"].includes(size)) throw new Error(`--size must be real or tiny, got '${values.size}'`);
const part = values.part!;
if (!["all", "load", "train"].includes(part)) throw new Error(`--part must be all, load or train, got '${part}'`);
if (!["on", "off"].includes(values.torch!)) throw new Error(`--torch must be on or off, got '${values.torch}'`);
const shapes = shapesFor(size);
const started = performance.now();

const work = values.keep ?? mkdtempSync(join(tmpdir(), "lspo-model-scale-"));
mkdirSync(work, { recursive: true });
let result: Record<string, unknown>;
try {
  const load = part === "train" ? null : await loadPart(shapes.load, join(work, "load"));
  // The load part's model files are ~10 GB at the real size: gone before the training run needs the disk.
  if (!values.keep) rmSync(join(work, "load"), { recursive: true, force: true });
  const train = part === "load" ? null : await trainPart({ config: shapes.train, work: join(work, "train"), timeoutS: size === "real" ? 5400 : 300, torch: values.torch === "on" });
  const flags = [size !== "real" ? `--size ${size}` : "", part !== "all" ? `--part ${part}` : "", values.torch === "off" ? "--torch off" : ""].filter(Boolean).join(" ");
  result = {
    benchmark: "model-scale",
    command: `npm run bench -- model-scale${flags ? ` ${flags}` : ""}`,
    date: new Date().toISOString(),
    machine: machine(),
    provenance: provenance.finish(),
    size,
    part,
    seconds: (performance.now() - started) / 1000,
    // The load part's fields at the top level (docs/BENCHMARKS.md "Real model sizes" reads them there).
    ...(load ?? {}),
    ...(train ? { train } : {}),
  };
} catch (err) {
  console.error(`model-scale failed; its files are kept in ${work}`);
  throw err;
}
const name = `model-scale${size === "real" ? "" : `-${size}`}${part === "all" ? "" : `-${part}`}.json`;
const out = join(import.meta.dirname, "results", name);
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${out} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (!values.keep) rmSync(work, { recursive: true, force: true });
// The watchers' NATS client may still be retrying the run's server, which is gone: nothing is left to do.
process.exit(0);
