// `npm run bench -- model-scale [--size 1.5b|tiny] [--keep <dir>]` (issue 16, the "1.5B load and publish"
// part): a Qwen2.5-1.5B-shaped model (hidden 1536, 28 layers, 12 / 2 heads, intermediate 8960, vocab
// 151,936, tied embeddings), initialised by `lspo model init --hf-config` once as one ~3.1 GB bf16
// model.safetensors and once as fp32 shards; both generate 16 tokens with `lspo model generate`; then one
// version (the fp32 weights) is published by the learner's WeightsPublisher in 512 MiB shards through a
// real nats-server and followed by a rollout actor's WeightsFollower, which checks every shard's SHA-256
// against the pointer and decodes with the new weights. Each step is its own process, timed with its peak
// RSS (GNU time's %M). `--size tiny` runs the same steps on a small model (a smoke form, seconds).
// The 0.5B end-to-end training run of the issue is not here yet (the learner's memory work comes first).
// Writes bench/results/model-scale.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startNatsServer } from "@lspo/bus";
import { startProvenance } from "@lspo/telemetry";
import { machine } from "./lib/stats.js";

const provenance = startProvenance({ ignore: /^bench\/results\// });
const root = join(import.meta.dirname, "..");
const tsx = createRequire(join(root, "package.json")).resolve("tsx");
const CLI = join(root, "services/controller/src/cli.ts");
const { values } = parseArgs({ options: { size: { type: "string", default: "1.5b" }, keep: { type: "string" } } });

const SHAPES: Record<string, Record<string, unknown>> = {
  "1.5b": { hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, vocab_size: 151936 },
  tiny: { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 151936 },
};
const shape = SHAPES[values.size!];
if (!shape) throw new Error(`--size must be one of ${Object.keys(SHAPES).join(", ")}, got '${values.size}'`);
const config = {
  architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", ...shape,
  max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true,
  hidden_act: "silu", bos_token_id: 151643, eos_token_id: 151643, torch_dtype: "bfloat16",
};

const work = values.keep ?? mkdtempSync(join(tmpdir(), "lspo-model-scale-"));
mkdirSync(work, { recursive: true });
const cfgFile = join(work, "config.json");
writeFileSync(cfgFile, JSON.stringify(config, null, 2));

interface Step {
  step: string;
  command: string;
  seconds: number;
  peakRssMiB: number;
  output: unknown;
}
const steps: Step[] = [];

/** Runs `node <args>` under GNU time; returns its parsed last stdout line and records time and peak RSS. */
function timed(step: string, args: string[]): unknown {
  const r = spawnSync("/usr/bin/time", ["-f", "%M %e", process.execPath, "--conditions=source", "--import", tsx, ...args], {
    cwd: root, encoding: "utf8", maxBuffer: 64 << 20,
  });
  const times = r.stderr.trim().split("\n").pop()!.split(" ");
  if (r.status !== 0) throw new Error(`${step} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  let output: unknown = r.stdout.trim().split("\n").pop();
  try {
    output = JSON.parse(output as string);
  } catch {
    /* plain text */
  }
  const s: Step = { step, command: args.map((a) => a.replace(root + "/", "")).join(" "), seconds: Number(times[1]), peakRssMiB: Math.round(Number(times[0]) / 1024), output };
  steps.push(s);
  console.log(`${step}: ${s.seconds} s, peak RSS ${s.peakRssMiB} MiB`);
  return output;
}

const dirBytes = (d: string) => readdirSync(d).filter((f) => f.endsWith(".safetensors")).map((f) => ({ file: f, bytes: statSync(join(d, f)).size }));

const bf16Dir = join(work, "bf16-file");
const fp32Dir = join(work, "fp32-shards");
timed("init: bf16, one model.safetensors", [CLI, "model", "init", "--hf-config", cfgFile, "--dtype", "bf16", "--shard-mb", "0", "--seed", "1", "--out", bf16Dir]);
timed("init: fp32, 2,000 MB shards", [CLI, "model", "init", "--hf-config", cfgFile, "--dtype", "fp32", "--seed", "1", "--out", fp32Dir]);
const files = { bf16: dirBytes(bf16Dir), fp32: dirBytes(fp32Dir) };
console.log(JSON.stringify(files));
const prompt = "Question: what is 12 + 30? Answer:";
timed("generate 16 tokens: bf16 file", [CLI, "model", "generate", bf16Dir, "--prompt", prompt, "--max-new-tokens", "16", "--seed", "1"]);
timed("generate 16 tokens: fp32 shards", [CLI, "model", "generate", fp32Dir, "--prompt", prompt, "--max-new-tokens", "16", "--seed", "1"]);

const nats = await startNatsServer({ storeDir: join(work, "nats") });
let published: Record<string, unknown>;
let followed: Record<string, unknown>;
try {
  published = timed("publish one version (learner, fp32, 512 MiB shards)", [join(root, "bench/lib/model-scale-publish.ts"), nats.url, fp32Dir, "scale", "F32", "512"]) as Record<string, unknown>;
  followed = timed("follow it (rollout actor: load the bf16 file, fetch + check + swap, decode 4)", [join(root, "bench/lib/model-scale-follow.ts"), nats.url, bf16Dir, "scale"]) as Record<string, unknown>;
} finally {
  await nats.stop();
}
const arrived = followed.synced === true && followed.contentId === published.contentId;
console.log(`arrived: ${arrived} (content id ${String(followed.contentId).slice(0, 12)}..., ${published.shards} shards, every one checked)`);
if (!arrived) throw new Error(`the version did not arrive: ${JSON.stringify({ published, followed })}`);

const result = {
  benchmark: "model-scale",
  command: `npm run bench -- model-scale --size ${values.size}`,
  date: new Date().toISOString(),
  machine: machine(),
  provenance: provenance.finish(),
  size: values.size,
  config,
  files,
  steps,
  published,
  followed,
  arrived,
  // The rollout side writes a version into its weights in place, a shard at a time (services/rollout policy.ts).
  followInPlace: true,
  notPart: "the 0.5B end-to-end training run (issue 16) is not measured here yet",
};
const out = join(import.meta.dirname, "results", values.size === "1.5b" ? "model-scale.json" : `model-scale-${values.size}.json`);
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${out}`);
if (!values.keep) rmSync(work, { recursive: true, force: true });
