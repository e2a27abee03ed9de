// RL probe: the learner's update in one process, without the actor system, to see whether (and how fast)
// the demo policy learns under given settings. Loop: draw P training prompts, sample G responses each,
// score, keep mixed groups (DAPO's dynamic sampling) until B are kept, one LearnerCore update, copy the
// weights into the sampler. Every `evalEvery` steps: greedy held-out accuracy and sampled accuracy on a
// fixed set of training prompts. Settings are key=value arguments; prints one JSON line per eval.
//   npx tsx --conditions=source bench/rl-probe.ts lr=5e-5 steps=60 B=16 G=8
// out=<file> writes the settings and every evaluation with the run's provenance (an artifact a doc can quote).
import { writeFileSync } from "node:fs";
import { LearnerCore } from "@lspo/learner/core";
import { OnnxDecoder, generate, loadTokenizer } from "@lspo/model";
import { RunConfigSchema } from "@lspo/config";
import type { VerifiedGroup } from "@lspo/proto";
import { readModelDir, syntheticProblems, verifyResponse } from "@lspo/tasks";
import { startProvenance } from "@lspo/telemetry";

const provenance = startProvenance({ ignore: /^(bench\/results|docs\/results)\// });
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split("=") as [string, string]));
const num = (k: string, d: number) => (args[k] === undefined ? d : Number(args[k]));
const lr = num("lr", 5e-5), steps = num("steps", 40), B = num("B", 16), G = num("G", 8), T = num("T", 1.0);
const evalEvery = num("evalEvery", 10), evalN = num("evalN", 256), probeN = num("probeN", 64);
const algo = args.algo ?? "dapo", warmup = num("warmup", 0), seed = num("seed", 1);
const filter = args.filter !== "0";
// overfit=1: draw training prompts only from the probe set (does the update raise reward on what it trains on?)
const overfit = args.overfit === "1";

const model = readModelDir(args.model ?? "configs/models/demo-base");
const tok = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, "tokenizer.json");
const decoder = await OnnxDecoder.create(model.config, model.weights, { threads: 1 });
const learnerCfg = RunConfigSchema.parse({ learner: { lr, warmupSteps: warmup, schedule: args.schedule ?? "constant", algorithm: { name: algo } } }).learner;
const core = await LearnerCore.create(model.config, model.weights, {
  learner: learnerCfg, totalSteps: steps, maxResponseLength: 96, device: "cpu", threads: 1, padId: model.config.padTokenId ?? 0,
});
const task = { seed: 0, difficulty: [1, 3] as [number, number] };
const train = syntheticProblems("train", num("pool", 4096), task);
const heldOut = syntheticProblems("test", evalN, task);
const probe = train.slice(0, probeN);
const bytes = (a: Int32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

async function sample(problems: typeof train, g: number, temperature: number, s: number) {
  const seqs = problems.flatMap((p) => Array.from({ length: g }, () => tok.encode(`${p.prompt}\n`)));
  const out: { tokens: number[]; logprobs: number[]; truncated: boolean; text: string }[] = [];
  for (let i = 0; i < seqs.length; i += 128) {
    const r = await generate(decoder, seqs.slice(i, i + 128), {
      maxNewTokens: 96, ...(temperature > 0 ? { sampling: { temperature, topP: 1, topK: 0 }, seed: (s + i) >>> 0 } : {}),
    });
    r.tokens.forEach((t, j) => out.push({ tokens: t, logprobs: r.logprobs[j], truncated: r.truncated[j], text: tok.decode(t, { skipSpecialTokens: true }) }));
  }
  return out;
}

async function evaluate(step: number) {
  const greedy = await sample(heldOut, 1, 0, 0);
  const acc = greedy.filter((r, i) => verifyResponse(r.text, heldOut[i].answer).correct).length / heldOut.length;
  const heldSampled = await sample(heldOut, 4, T, 54321);
  const hsacc = heldSampled.filter((r, i) => verifyResponse(r.text, heldOut[Math.floor(i / 4)].answer).correct).length / heldSampled.length;
  const sampled = await sample(probe, 4, T, 12345);
  const sacc = sampled.filter((r, i) => verifyResponse(r.text, probe[Math.floor(i / 4)].answer).correct).length / sampled.length;
  const len = greedy.reduce((n, r) => n + r.tokens.length, 0) / greedy.length;
  return { step, heldOutGreedy: acc, heldOutSampled: hsacc, trainSampled: sacc, greedyLen: +len.toFixed(1) };
}

const log: unknown[] = [];
const t0 = performance.now();
const emit = (x: object) => (log.push(x), console.log(JSON.stringify({ ...x, s: +((performance.now() - t0) / 1000).toFixed(0) })));
emit(await evaluate(0));
let cursor = 0, generated = 0;
for (let step = 1; step <= steps; step++) {
  const kept: VerifiedGroup[] = [];
  let rewardAll = 0, n = 0;
  while (kept.length < B) {
    const problems = overfit ? probe.slice((cursor / 16) % (probeN / 16) * 16, ((cursor / 16) % (probeN / 16) + 1) * 16) : train.slice(cursor % train.length, (cursor % train.length) + 16);
    cursor += 16;
    const rs = await sample(problems, G, T, seed * 1_000_003 + cursor);
    generated += problems.length;
    problems.forEach((p, pi) => {
      const resp = rs.slice(pi * G, pi * G + G);
      const v = resp.map((r) => verifyResponse(r.text, p.answer));
      const rewards = v.map((x) => x.reward);
      rewardAll += rewards.reduce((a, b) => a + b, 0); n += G;
      if (filter && rewards.every((r) => r === rewards[0])) return;
      if (kept.length >= B) return;
      const promptIds = Int32Array.from(tok.encode(`${p.prompt}\n`));
      kept.push({
        group: {
          uid: `${p.id}@${cursor}`, policyVersion: BigInt(core.step), actor: "probe", generatedAt: new Date(),
          prompt: { uid: p.id, runId: "probe", task: "synthetic", promptText: p.prompt, promptIds: bytes(promptIds), answer: p.answer, groupSize: G, cursor: 0n, requestedAt: new Date() },
          responses: resp.map((r) => ({ tokenIds: bytes(Int32Array.from(r.tokens)), logprobs: bytes(Float32Array.from(r.logprobs)), truncated: r.truncated, text: r.text })),
        },
        rewards, correct: v.map((x) => x.correct),
      } as VerifiedGroup);
    });
  }
  const rec = await core.update(kept);
  await decoder.setWeights(core.weights);
  if (step % 5 === 0) console.error(JSON.stringify({ step, loss: +rec.loss.toFixed(4), meanRewardKept: +rec.meanReward.toFixed(3), sampledAll: +(rewardAll / n).toFixed(3), gradNorm: +rec.gradNorm.toFixed(3), clip: rec.metrics }));
  if (step % evalEvery === 0) emit({ ...(await evaluate(step)), generated });
}
if (args.out) writeFileSync(args.out, JSON.stringify({ args, log, provenance: provenance.finish() }, null, 1));
