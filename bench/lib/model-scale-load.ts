// The "1.5B load and publish" part of bench/model-scale.ts (issue 16): the model initialised by `lspo model
// init --hf-config` once as one bf16 model.safetensors and once as fp32 shards; both generate 16 tokens
// with `lspo model generate`; then one version (the fp32 weights) is published by the learner's
// WeightsPublisher in 512 MiB shards through a real nats-server and followed by a rollout actor's
// WeightsFollower, which checks every shard's SHA-256 against the pointer and decodes with the new weights.
// Each step is its own process, timed with its peak RSS (GNU time's %M).
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNatsServer } from "@lspo/bus";
import { CLI, root, timed, type Step } from "./cli-step.js";

export interface LoadPart {
  config: Record<string, unknown>;
  files: Record<string, Array<{ file: string; bytes: number }>>;
  steps: Step[];
  published: Record<string, unknown>;
  followed: Record<string, unknown>;
  arrived: boolean;
  /** The rollout side writes a version into its weights in place, a shard at a time (services/rollout policy.ts). */
  followInPlace: boolean;
}

const dirBytes = (d: string) => readdirSync(d).filter((f) => f.endsWith(".safetensors")).map((f) => ({ file: f, bytes: statSync(join(d, f)).size }));

export async function loadPart(config: Record<string, unknown>, work: string): Promise<LoadPart> {
  mkdirSync(work, { recursive: true });
  const cfgFile = join(work, "config.json");
  writeFileSync(cfgFile, JSON.stringify(config, null, 2));
  const steps: Step[] = [];
  const bf16Dir = join(work, "bf16-file");
  const fp32Dir = join(work, "fp32-shards");
  steps.push(timed("init: bf16, one model.safetensors", [CLI, "model", "init", "--hf-config", cfgFile, "--dtype", "bf16", "--shard-mb", "0", "--seed", "1", "--out", bf16Dir]));
  steps.push(timed("init: fp32, 2,000 MB shards", [CLI, "model", "init", "--hf-config", cfgFile, "--dtype", "fp32", "--seed", "1", "--out", fp32Dir]));
  const files = { bf16: dirBytes(bf16Dir), fp32: dirBytes(fp32Dir) };
  console.log(JSON.stringify(files));
  const prompt = "Question: what is 12 + 30? Answer:";
  steps.push(timed("generate 16 tokens: bf16 file", [CLI, "model", "generate", bf16Dir, "--prompt", prompt, "--max-new-tokens", "16", "--seed", "1"]));
  steps.push(timed("generate 16 tokens: fp32 shards", [CLI, "model", "generate", fp32Dir, "--prompt", prompt, "--max-new-tokens", "16", "--seed", "1"]));

  const nats = await startNatsServer({ storeDir: join(work, "nats") });
  let publish: Step;
  let follow: Step;
  try {
    publish = timed("publish one version (learner, fp32, 512 MiB shards)", [join(root, "bench/lib/model-scale-publish.ts"), nats.url, fp32Dir, "scale", "F32", "512"]);
    follow = timed("follow it (rollout actor: load the bf16 file, fetch + check + swap, decode 4)", [join(root, "bench/lib/model-scale-follow.ts"), nats.url, bf16Dir, "scale"]);
  } finally {
    await nats.stop();
  }
  steps.push(publish, follow);
  const published = publish.output as Record<string, unknown>;
  const followed = follow.output as Record<string, unknown>;
  const arrived = followed.synced === true && followed.contentId === published.contentId;
  console.log(`arrived: ${arrived} (content id ${String(followed.contentId).slice(0, 12)}..., ${published.shards} shards, every one checked)`);
  if (!arrived) throw new Error(`the version did not arrive: ${JSON.stringify({ published, followed })}`);
  return { config, files, steps, published, followed, arrived, followInPlace: true };
}
