// bench/results/bus.json (npm run bench -- bus): docs/BENCHMARKS.md, "Bus overhead".
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, grouped, spread, type Spread } from "../support/format.js";
import type { View } from "./view.js";

interface Phase {
  oursMsgsPerS: Spread;
  rawMsgsPerS: Spread;
  oursMBPerS: Spread;
  rawMBPerS: Spread;
  ratio: Spread & { runs: number[] };
  oursCpuMicrosPerMsg: Spread;
  rawCpuMicrosPerMsg: Spread;
}
interface Row {
  size: string;
  envelopeBytes: number;
  groupSize: number;
  promptTokens: number;
  tokensPerResponse: number;
  messages: number;
  publish: Phase;
  consume: Phase;
  endToEnd: Phase;
}
interface Bus {
  rows: Row[];
  codec: { size: string; microsPerCall: { leasedEncode: number; decode: number; validate: number } }[];
}

/** The goal: the typed path end to end at least 0.9x the raw client, judged on the wall-clock median. */
const GOAL = 0.9;
const ratio = (p: Phase) => spread(p.ratio, (x) => fixed(x, 2));
const cpu = (p: Phase) => `${grouped(p.oursCpuMicrosPerMsg.median)} / ${grouped(p.rawCpuMicrosPerMsg.median)}`;
const byRow = (d: Bus, f: (r: Row) => string[]) => d.rows.map((r) => [r.size, ...f(r)]);

export const views: Record<string, View> = {
  payloads: (d: Bus) => ({
    table: [
      ["size", "envelope", "group"],
      ...byRow(d, (r) => [`${grouped(r.envelopeBytes)} B`, `G = ${r.groupSize}, ${r.promptTokens}-token prompt, ${grouped(r.tokensPerResponse)} tokens per response`]),
    ],
  }),
  "end-to-end": (d: Bus) => ({
    table: [
      ["size", "end to end, ours/raw: median (min–max)", "goal >= 0.9x", "ours msgs/s", "raw msgs/s", "ours MB/s", "raw MB/s", "CPU µs per message, ours / raw"],
      ...byRow(d, (r) => {
        const e = r.endToEnd;
        return [ratio(e), judgeGoal(e.ratio, GOAL), spread(e.oursMsgsPerS, grouped), spread(e.rawMsgsPerS, grouped), fixed(e.oursMBPerS.median, 1), fixed(e.rawMBPerS.median, 1), cpu(e)];
      }),
    ],
  }),
  phases: (d: Bus) => ({
    table: [
      ["size", "publish, ours/raw", "consume, ours/raw", "CPU publish", "CPU consume"],
      ...byRow(d, (r) => [ratio(r.publish), ratio(r.consume), cpu(r.publish), cpu(r.consume)]),
    ],
  }),
  codec: (d: Bus) => ({
    table: [
      ["size", "leased encode", "decode", "validate"],
      ...d.codec.map((c) => [c.size, fixed(c.microsPerCall.leasedEncode, 1), fixed(c.microsPerCall.decode, 1), fixed(c.microsPerCall.validate, 1)]),
    ],
  }),
  goal: (d: Bus) => {
    const at = (size: string) => d.rows.find((r) => r.size === size)!.endToEnd;
    const misses = (p: Phase) => p.ratio.runs.filter((x) => x < GOAL).length;
    return {
      quotes: [
        `1 KB: ${judgeGoal(at("1 KB").ratio, GOAL)}, ${ratio(at("1 KB"))}`,
        `64 KB: ${ratio(at("64 KB"))}, ${misses(at("64 KB"))} of ${at("64 KB").ratio.runs.length} runs below 0.9`,
        `1 MB: ${ratio(at("1 MB"))}, ${misses(at("1 MB"))} of ${at("1 MB").ratio.runs.length} runs below 0.9`,
        `${grouped(at("1 KB").rawCpuMicrosPerMsg.median)} µs of client CPU per message; ours costs ${grouped(at("1 KB").oursCpuMicrosPerMsg.median)} µs`,
      ],
    };
  },
};
