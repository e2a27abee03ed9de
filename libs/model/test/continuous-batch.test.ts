// ContinuousBatch as a rollout actor drives it: sequences added between steps, each with its own sampling, stop
// tokens, length limit and rng stream. Whatever a sequence shares the batch with, and whenever it joins, it must
// generate what generate() gives it alone (up to float rounding of a different batch shape, which these models
// do not reach).
import { describe, expect, it } from "vitest";
import type { LlamaConfig } from "../src/config.js";
import { ContinuousBatch, type SequenceSpec } from "../src/generate/continuous.js";
import type { DecoderStepInput } from "../src/generate/decoder.js";
import { generate } from "../src/generate/generate.js";
import { initModel } from "../src/init.js";
import { OnnxDecoder } from "../src/runtime/decoder-session.js";
import { rngStreams } from "../src/sampling/rng.js";
import { GREEDY, type SamplingParams } from "../src/sampling/sample.js";
import { TINY_QWEN2 } from "./support/tiny-qwen2.js";

const config: LlamaConfig = TINY_QWEN2;
const weights = initModel(config, 3, { initializerRange: 0.3 });

interface Job {
  prompt: number[];
  maxNew: number;
  stop: number[];
  sampling: SamplingParams;
  seed: number;
}

/** What generate() gives a job's G samples alone (stream i of its seed for sample i). */
async function alone(dec: OnnxDecoder, job: Job, G: number) {
  const r = await generate(dec, new Array(G).fill(job.prompt), {
    maxNewTokens: job.maxNew, stopTokenIds: job.stop, sampling: job.sampling, seed: job.sampling.temperature > 0 ? job.seed : undefined,
  });
  return r.tokens.map((tokens, i) => ({ tokens, logprobs: r.logprobs[i], truncated: r.truncated[i] }));
}

describe("ContinuousBatch - sequences that arrive while others decode", () => {
  it("each group generates what it does alone, whatever it joins beside and whenever it joins", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    let s = 777;
    const rand = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % n);
    const samplings: SamplingParams[] = [GREEDY, { temperature: 1, topK: 0, topP: 1 }, { temperature: 0.8, topK: 20, topP: 0.9 }];
    const G = 3;
    const jobs: Job[] = Array.from({ length: 9 }, (_, j) => ({
      prompt: Array.from({ length: 1 + rand(10) }, () => 6 + rand(50)),
      maxNew: 1 + rand(30),
      stop: Array.from({ length: rand(3) }, () => 2 + rand(4)),
      sampling: samplings[j % 3],
      seed: 100 + j,
    }));
    const got: { tokens: number[]; logprobs: number[]; truncated: boolean }[][] = jobs.map(() => []);
    const ended: number[] = [];
    let liveRows = 0, decodeRows = 0;
    const batch = ContinuousBatch.open(dec, 4, 64, { pad: 0, onStep: (e) => e.P > 0 && ((liveRows += e.live), (decodeRows += e.B)) });
    const specsOf = (j: number): SequenceSpec[] => {
      const rngs = jobs[j].sampling.temperature > 0 ? rngStreams(jobs[j].seed, G) : null;
      return Array.from({ length: G }, (_, i) => ({
        prompt: jobs[j].prompt, maxNew: jobs[j].maxNew, stop: new Set(jobs[j].stop), sampling: jobs[j].sampling, rng: rngs?.[i] ?? null,
        onEnd: (e) => ((got[j][i] = { ...e }), ended.push(j)),
      }));
    };
    // Two groups up front, then one more every few steps while rows are busy.
    batch.add([...specsOf(0), ...specsOf(1)]);
    let next = 2, steps = 0;
    const widths: number[] = [];
    while (batch.live > 0 || batch.waiting > 0 || next < jobs.length) {
      if (next < jobs.length && steps % 3 === 0) batch.add(specsOf(next++));
      await batch.step();
      widths.push(batch.live);
      steps++;
    }
    expect(Math.max(...widths)).toBe(4); // rows were shared
    expect(batch.rows).toBe(4); // never closed: free rows were kept for what might come
    expect(ended.length).toBe(jobs.length * G); // every sequence ended once
    // Every live row of a decode step made one token; each sequence's first came from its prefill.
    const tokens = got.flat().reduce((n, r) => n + r.tokens.length, 0);
    expect(liveRows).toBe(tokens - jobs.length * G);
    expect(decodeRows).toBeGreaterThanOrEqual(liveRows);
    for (const [j, job] of jobs.entries()) {
      const want = await alone(dec, job, G);
      expect(got[j].map((r) => r.tokens), `job ${j}`).toEqual(want.map((r) => r.tokens));
      expect(got[j].map((r) => r.truncated)).toEqual(want.map((r) => r.truncated));
      got[j].forEach((r, i) => r.logprobs.forEach((lp, t) => expect(Math.abs(lp - want[i].logprobs[t])).toBeLessThan(1e-4)));
    }
    batch.release();
    await dec.release();
  });

  it("takes a step's tokens from the decoder's greedy picks (greedyStep) only while every live row is greedy: the same tokens as the logits", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    const calls = { greedy: 0, logits: 0 };
    const decoder = {
      config: dec.config, openCache: dec.openCache.bind(dec),
      step: (input: DecoderStepInput) => (input.inputIds.shape[1] === 1 && calls.logits++, dec.step(input)),
      greedyStep: (input: DecoderStepInput) => (calls.greedy++, dec.greedyStep(input)),
    };
    const jobs: Job[] = [
      { prompt: [7, 8, 9, 10], maxNew: 12, stop: [], sampling: GREEDY, seed: 0 },
      { prompt: [11, 12], maxNew: 5, stop: [], sampling: GREEDY, seed: 0 },
      { prompt: [13, 14, 15], maxNew: 20, stop: [], sampling: { temperature: 1, topK: 0, topP: 1 }, seed: 5 },
    ];
    const run = async (js: Job[]) => {
      const got: number[][][] = js.map(() => []);
      const batch = ContinuousBatch.open(decoder, 4, 64, { pad: 0 });
      batch.add(js.flatMap((job, j) => {
        const rngs = job.sampling.temperature > 0 ? rngStreams(job.seed, 2) : null;
        return [0, 1].map((i) => ({ prompt: job.prompt, maxNew: job.maxNew, stop: new Set(job.stop), sampling: job.sampling, rng: rngs?.[i] ?? null, onEnd: (e: { tokens: number[] }) => (got[j][i] = e.tokens) }));
      }));
      batch.close();
      await batch.run();
      batch.release();
      return got;
    };
    // Greedy rows alone: every decode step is a greedy one (12 new tokens: 11 decode steps after the prefill).
    const greedyOnly = await run(jobs.slice(0, 2));
    expect(calls).toEqual({ greedy: 11, logits: 0 });
    for (const [j, job] of jobs.slice(0, 2).entries()) expect(greedyOnly[j]).toEqual((await alone(dec, job, 2)).map((r) => r.tokens));
    // With a sampled group (20 tokens, the longest) queued behind them in 4 rows: the 4 greedy rows decode alone
    // until the 5-token group ends (4 greedy steps), then the sampled pair joins, and every step while it is live
    // (its 19 decode steps) takes the logits.
    calls.greedy = calls.logits = 0;
    const mixed = await run(jobs);
    expect(calls).toEqual({ greedy: 4, logits: 19 });
    for (const [j, job] of jobs.entries()) expect(mixed[j]).toEqual((await alone(dec, job, 2)).map((r) => r.tokens));
    await dec.release();
  });

  it("fails naming the row and the token when the decoder's greedy pick lies outside the vocabulary", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    const decoder = {
      config: dec.config, openCache: dec.openCache.bind(dec), step: dec.step.bind(dec),
      greedyStep: async (input: DecoderStepInput) => {
        const r = (await dec.greedyStep(input))!;
        r.tokens[1] = config.vocabSize; // one past the last id
        return r;
      },
    };
    const batch = ContinuousBatch.open(decoder, 2, 32, { pad: 0 });
    batch.add([0, 1].map(() => ({ prompt: [7, 8, 9], maxNew: 5, stop: new Set<number>(), sampling: GREEDY, rng: null, onEnd: () => undefined })));
    await expect(batch.run()).rejects.toThrow(`ContinuousBatch: the decoder picked token ${config.vocabSize} for row 1, outside the vocabulary [0, ${config.vocabSize})`);
    batch.release();
    await dec.release();
  });

  it("refuses what it cannot run, naming it: a sampled sequence without an rng, maxNew below 1, an empty prompt, adding after close, a cache it cannot batch on", async () => {
    const dec = await OnnxDecoder.create(config, weights);
    const batch = ContinuousBatch.open(dec, 2, 32, { pad: 0 });
    const spec = (o: Partial<SequenceSpec>): SequenceSpec => ({ prompt: [5, 6], maxNew: 4, stop: new Set(), sampling: GREEDY, rng: null, onEnd: () => undefined, ...o });
    expect(() => batch.add([spec({ sampling: { temperature: 1, topK: 0, topP: 1 } })])).toThrow(/temperature > 0 needs the sequence's rng/);
    expect(() => batch.add([spec({ maxNew: 0 })])).toThrow(/maxNew must be an integer >= 1, got 0/);
    expect(() => batch.add([spec({ prompt: [] })])).toThrow(/a prompt needs at least one token/);
    batch.close();
    expect(() => batch.add([spec({})])).toThrow(/the batch was closed/);
    batch.release();
    expect(() => ContinuousBatch.open(dec, 0, 32, { pad: 0 })).toThrow(/rows must be a positive integer, got 0/);
    const concat = await OnnxDecoder.create(config, weights, { kvCache: "concat" });
    expect(() => ContinuousBatch.open(concat, 2, 32, { pad: 0 })).toThrow(/needs a decoder whose KV cache is host slots/);
    await Promise.all([dec.release(), concat.release()]);
  });
});
