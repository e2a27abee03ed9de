// Issue 22's CPU goals where the kit runs: a GPU node's many cores, which the repository's 2-core machine cannot
// stand in for. Ours in place (generate(), the loop the rollout actor runs, on the in-place slot cache) against
// the fair PyTorch CPU eager peer (bench/lib/torch_decode_cpu.py: its header says what makes it fair), on the
// same weights, prompts and thread count: tokens/s at each batch, and the decode step's time near two cache
// positions. The measurements of `npm run bench -- decode` parts 1 and 2 (bench/decode.ts), on one model and
// without the concat engine: what a device session's few minutes can hold. Each run times both engines, in an
// order that alternates from run to run, and the ratios are taken within a run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LlamaConfig, OnnxDecoder, type Weights } from "@lspo/model";
import { randomPrompts } from "../lib/decode-models.js";
import { timeOurs } from "../lib/decode-ours.js";
import { type Generation, type Step, windowOf } from "../lib/decode-timing.js";
import { runTorchPeer, writeWeightsFile } from "../lib/decode-torch.js";
import { type Summary, judgeGoal, summarize } from "../lib/stats.js";

export interface DecodeGoalsPlan {
  /** Tokens/s part: `prompt` prompt tokens, then `newTokens` greedy tokens, at each batch. */
  batches: number[];
  prompt: number;
  newTokens: number;
  /** Step-time part: one long generation at `batch`; the median step over P in [at - halfWidth, at + halfWidth). */
  position: { batch: number; newTokens: number; near: number; far: number; halfWidth: number };
  runs: number;
  /** Issue 22's goals: ours at least `speedup`x PyTorch at every batch, far step at most `flatSteps`x the near one. */
  goals: { speedup: number; flatSteps: number };
}

export interface DecodeGoalsOptions {
  /** Threads for both engines (onnxruntime's intra-op pool, torch.set_num_threads). */
  threads: number;
  /** The Python with torch, or null: then ours alone is measured and no goal is judged. */
  python: string | null;
  /** The repository's root (the bundled kit runs from it). */
  root: string;
  log: (line: string) => void;
}

type Engine = "ours" | "torch";
const ENGINES: Engine[] = ["ours", "torch"];

interface EngineGeneration {
  generation: Generation;
  steps: Step[];
  tokens: number[][] | null;
}

/** Rows of `b` whose greedy tokens equal `a`'s: the two engines must have computed the same model. */
const rowsIdentical = (a: number[][] | null, b: number[][] | null): number | null => (a && b ? a.filter((row, i) => row.join() === b[i]?.join()).length : null);

export async function decodeGoals(cfg: LlamaConfig, w: Weights, plan: DecodeGoalsPlan, o: DecodeGoalsOptions) {
  const dir = mkdtempSync(join(tmpdir(), "lspo-decode-goals-"));
  const decoder = await OnnxDecoder.create(cfg, w, { threads: o.threads, kvCache: "in-place" });
  try {
    // Session start-up and first-call costs outside the timings, as bench/decode.ts does (the peer warms itself up).
    await timeOurs(decoder, randomPrompts(1, 8, cfg.vocabSize, 7), 4);
    const weightsFile = o.python ? writeWeightsFile(w, join(dir, "weights.f32")) : null;
    const prompts = new Map(plan.batches.map((B) => [B, randomPrompts(B, plan.prompt, cfg.vocabSize, 1000 + B)]));
    const p = plan.position;
    const positionPrompts = randomPrompts(p.batch, plan.prompt, cfg.vocabSize, 2000 + p.batch);
    const near: [number, number] = [p.near - p.halfWidth, p.near + p.halfWidth];
    const far: [number, number] = [p.far - p.halfWidth, p.far + p.halfWidth];
    let torchInfo: { torch: string; threads: number; blas: string[] } | null = null;
    const runs: { run: number; order: Engine[]; tokensPerS: Record<Engine, Record<number, number> | null>; farOverNear: Record<Engine, number | null>; nearStepSeconds: Record<Engine, number | null>; farStepSeconds: Record<Engine, number | null>; rowsIdentical: Record<number, number | null> }[] = [];
    for (let run = 0; run < plan.runs; run++) {
      const order = run % 2 ? [...ENGINES].reverse() : ENGINES;
      const got: Record<Engine, { batches: Map<number, EngineGeneration>; position: EngineGeneration } | null> = { ours: null, torch: null };
      for (const engine of order) {
        if (engine === "ours") {
          const batches = new Map<number, EngineGeneration>();
          for (const B of plan.batches) batches.set(B, await timeOurs(decoder, prompts.get(B)!, plan.newTokens));
          got.ours = { batches, position: await timeOurs(decoder, positionPrompts, p.newTokens) };
        } else if (o.python && weightsFile) {
          const jobs = [...plan.batches.map((B) => ({ prompts: prompts.get(B)!, newTokens: plan.newTokens, tokens: true })), { prompts: positionPrompts, newTokens: p.newTokens }];
          const r = runTorchPeer(o.python, cfg, weightsFile, o.threads, jobs, o.root);
          torchInfo = { torch: r.torch, threads: r.threads, blas: r.blas };
          got.torch = { batches: new Map(plan.batches.map((B, i) => [B, r.generations[i]])), position: r.generations[plan.batches.length] };
        }
      }
      const stepAt = (e: Engine, window: [number, number]) => (got[e] ? summarize(windowOf(got[e]!.position.steps, ...window)).median : null);
      const entry = {
        run, order,
        tokensPerS: Object.fromEntries(ENGINES.map((e) => [e, got[e] ? Object.fromEntries([...got[e]!.batches].map(([B, g]) => [B, g.generation.tokensPerS])) : null])) as Record<Engine, Record<number, number> | null>,
        nearStepSeconds: { ours: stepAt("ours", near), torch: stepAt("torch", near) },
        farStepSeconds: { ours: stepAt("ours", far), torch: stepAt("torch", far) },
        farOverNear: { ours: null, torch: null } as Record<Engine, number | null>,
        /** Per batch, the rows on which PyTorch's greedy tokens equal ours (as bench/decode.ts counts them). */
        rowsIdentical: Object.fromEntries(plan.batches.map((B) => [B, rowsIdentical(got.ours?.batches.get(B)?.tokens ?? null, got.torch?.batches.get(B)?.tokens ?? null)])),
      };
      for (const e of ENGINES) if (entry.nearStepSeconds[e] !== null) entry.farOverNear[e] = entry.farStepSeconds[e]! / entry.nearStepSeconds[e]!;
      runs.push(entry);
      const tps = (e: Engine) => (entry.tokensPerS[e] ? plan.batches.map((B) => `${B}: ${entry.tokensPerS[e]![B].toFixed(0)}`).join(", ") : "-");
      const same = plan.batches.map((B) => `${B}: ${entry.rowsIdentical[B] ?? "-"}/${B}`).join(", ");
      o.log(`  decode goals run ${run + 1}: tokens/s ours {${tps("ours")}}, torch {${tps("torch")}}; step far / near: ours ${entry.farOverNear.ours?.toFixed(2)}x, torch ${entry.farOverNear.torch?.toFixed(2) ?? "-"}x; identical rows {${same}}`);
    }
    // Judged as every benchmark's goals are (bench/lib/stats.ts judgeGoal: met, not met, or not settled).
    const summaryOf = (xs: (number | null)[]): Summary | null => (xs.every((x) => x !== null) ? summarize(xs as number[]) : null);
    const speedups = plan.batches.map((B) => {
      const ratio = summaryOf(runs.map((r) => (r.tokensPerS.torch ? r.tokensPerS.ours![B] / r.tokensPerS.torch[B] : null)));
      return { batch: B, oursOverTorch: ratio, verdict: ratio ? judgeGoal(ratio, plan.goals.speedup) : "no PyTorch peer" };
    });
    const growth = summaryOf(runs.map((r) => r.farOverNear.ours));
    return {
      threads: o.threads, torch: torchInfo ?? (o.python ? null : "skipped: no Python with torch"), plan,
      speedups, farOverNear: { ours: growth, torch: summaryOf(runs.map((r) => r.farOverNear.torch)) },
      goals: [
        ...speedups.map((s) => ({ goal: `ours at least ${plan.goals.speedup}x PyTorch CPU eager, tokens/s (batch ${s.batch})`, verdict: s.verdict })),
        { goal: `ours: decode step at P ≈ ${p.far} at most ${plan.goals.flatSteps}x the step at P ≈ ${p.near} (batch ${p.batch})`, verdict: growth ? judgeGoal(growth, plan.goals.flatSteps, false) : "not measured" },
      ],
      runs,
    };
  } finally {
    await decoder.release();
    rmSync(dir, { recursive: true, force: true });
  }
}
