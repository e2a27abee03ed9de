// bench/results/decode.json (npm run bench -- decode, issue 22): greedy decode tokens/s of ours with the KV cache
// in place, ours with it concatenated each step (before issue 22) and PyTorch CPU eager, in one run; the
// decode step's time near the start of the cache and far into it; the goals, judged again here.
import { judgeGoal } from "../../../bench/lib/stats.js";
import { fixed, grouped, spread, spreadOf, type Spread } from "../support/format.js";
import type { View } from "./view.js";

type Engine = "in-place" | "concat" | "torch";
const ENGINES: Engine[] = ["in-place", "concat", "torch"];
const LABEL: Record<Engine, string> = { "in-place": "ours, in-place cache", concat: "ours, concat (before issue 22)", torch: "PyTorch CPU eager" };

interface Batch {
  batch: number;
  runs: { generations: Record<Engine, { seconds: number; stepSecondsTotal?: number } | undefined> }[];
  tokensPerS: Record<Engine, Spread | null>;
  inPlaceOverTorch: Spread | null;
  inPlaceOverConcat: Spread;
}
interface PositionSummary {
  nearStepSeconds: Spread;
  farStepSeconds: Spread;
  farOverNear: Spread;
}
type Goal = ({ kind: "speedup"; atLeast: number } | { kind: "flat-steps"; atMost: number }) & { goal: string; measured: Spread | null };
interface Decode {
  torch: { status: string };
  models: { name: string; runs: number; batches: Batch[] }[];
  position: {
    model: string;
    batch: number;
    newTokens: number;
    runs: { run: number }[];
    windows: { near: [number, number]; far: [number, number] };
    summary: Record<Engine, PositionSummary | null>;
  } | null;
  goals: Goal[];
  rollout: {
    model: string;
    prompts: number;
    groupSize: number;
    rows: number;
    maxNewTokens: number;
    runs: { identicalSequences: number; paths: Record<string, { lengths: number[]; tokens: number }> }[];
    sequences: number;
    summary: Record<string, { tokensPerS: Spread; rowOccupancy: Spread; seconds: Spread }>;
    speedup: Spread;
  } | null;
  attention?: {
    geometries: {
      name: string;
      cases: { batch: number; slots: number; cacheBytes: number; forms: Record<"several rows" | "one row", { seconds: Spread; gbPerS: Spread }>; oneRowSpeedup: Spread }[];
    }[];
    streamingRead: { bytes: number; gbPerS: Spread };
  } | null;
}

const tokens = (s: Spread | null, missing: string) => (s ? spread(s, (x) => grouped(x)) : missing);
/** "3.10x (2.95–3.21)" */
const ratio = (s: Spread | null, missing: string) => (s ? `${fixed(s.median, 2)}x (${fixed(s.min, 2)}–${fixed(s.max, 2)})` : missing);
const stepMs = (s: Spread) => spread(s, (x) => fixed(x * 1000, 1));
/** What a cell says where PyTorch was not measured (skipped, or its peer failed). */
const noTorch = (d: Decode) => (d.torch.status.startsWith("measured") ? "failed" : "skipped");

export const views: Record<string, View> = {
  /** Ours in place: the whole generation against its decoder steps; the rest is the loop's own work. */
  loop: (d: Decode) => ({
    table: [
      ["model", "batch", "generation, s", "decoder steps, s", "outside the steps, s", "outside, share"],
      ...d.models.flatMap((m) => m.batches.map((b) => {
        const runs = b.runs.map((r) => r.generations["in-place"]).filter((g) => g?.stepSecondsTotal !== undefined) as { seconds: number; stepSecondsTotal: number }[];
        const s = (f: (g: { seconds: number; stepSecondsTotal: number }) => number, digits: number) => spread(spreadOf(runs.map(f)), (x) => fixed(x, digits));
        return [m.name, String(b.batch), s((g) => g.seconds, 2), s((g) => g.stepSecondsTotal, 2), s((g) => g.seconds - g.stepSecondsTotal, 2), s((g) => 1 - g.stepSecondsTotal / g.seconds, 2)];
      })),
    ],
  }),
  /** Tokens/s over the whole generation, median (min–max) over runs, and the within-run ratios. */
  tokens: (d: Decode) => ({
    table: [
      ["model", "batch", "runs", `${LABEL["in-place"]}, tokens/s`, `${LABEL.concat}, tokens/s`, `${LABEL.torch}, tokens/s`, "in-place / PyTorch", "in-place / concat"],
      ...d.models.flatMap((m) => m.batches.map((b) => [
        m.name, String(b.batch), String(m.runs),
        tokens(b.tokensPerS["in-place"], "—"), tokens(b.tokensPerS.concat, "—"), tokens(b.tokensPerS.torch, noTorch(d)),
        ratio(b.inPlaceOverTorch, noTorch(d)), ratio(b.inPlaceOverConcat, "—"),
      ])),
    ],
  }),
  /** The median decode step in each window of positions, per engine, and how much it grew. */
  steps: (d: Decode) => {
    const p = d.position;
    if (!p) throw new TypeError("the artifact has no position run");
    const at = ([from, to]: [number, number]) => `P ${from}–${to - 1}`;
    return {
      table: [
        ["engine", `decode step at ${at(p.windows.near)}, ms`, `decode step at ${at(p.windows.far)}, ms`, "far / near"],
        ...ENGINES.map((e) => {
          const s = p.summary[e];
          return s ? [LABEL[e], stepMs(s.nearStepSeconds), stepMs(s.farStepSeconds), ratio(s.farOverNear, "—")] : [LABEL[e], noTorch(d), noTorch(d), noTorch(d)];
        }),
      ],
    };
  },
  /** A rollout actor's call, before issue 22 and with in-place + continuous batching. */
  rollout: (d: Decode) => {
    const r = d.rollout;
    if (!r) throw new TypeError("the artifact has no rollout part");
    const lengths = r.runs.flatMap((x) => Object.values(x.paths).flatMap((p) => p.lengths));
    return {
      table: [
        ["path", "tokens/s", "row occupancy", "seconds per call", "speed-up", "response lengths", "identical sequences"],
        ...Object.entries(r.summary).map(([path, s], i) => [
          path, tokens(s.tokensPerS, "—"), spread(s.rowOccupancy, (x) => fixed(x, 2)), spread(s.seconds, (x) => fixed(x, 1)),
          i === 0 ? "1x" : ratio(r.speedup, "—"),
          `${Math.min(...lengths)}–${Math.max(...lengths)}`,
          `${Math.min(...r.runs.map((x) => x.identicalSequences))}–${Math.max(...r.runs.map((x) => x.identicalSequences))} of ${r.sequences}`,
        ]),
      ],
    };
  },
  /** The two attention products alone in both forms, per attention geometry, beside onnxruntime's streaming read. */
  attention: (d: Decode) => {
    const a = d.attention;
    if (!a) throw new TypeError("the artifact has no attention part");
    const form = (f: { seconds: Spread; gbPerS: Spread }) => `${spread(f.seconds, (x) => fixed(x * 1000, 2))} ms, ${fixed(f.gbPerS.median, 1)} GB/s`;
    return {
      table: [
        ["attention geometry", "batch", "cache slots", "cache, MB", "several rows", "one row", "one row / several rows", "onnxruntime streaming read"],
        ...a.geometries.flatMap((g) => g.cases.map((c) => [
          g.name, String(c.batch), grouped(c.slots), fixed(c.cacheBytes / 1e6, 0), form(c.forms["several rows"]), form(c.forms["one row"]), ratio(c.oneRowSpeedup, "—"),
          `${spread(a.streamingRead.gbPerS, (x) => fixed(x, 1))} GB/s`,
        ])),
      ],
    };
  },
  /** Each goal of the issue, its within-run measurement and the verdict (stats.ts judgeGoal on the spread). */
  goals: (d: Decode) => ({
    table: [
      ["goal", "measured", "verdict"],
      ...d.goals.map((g) => [
        g.goal,
        ratio(g.measured, "not measured"),
        g.measured ? (g.kind === "speedup" ? judgeGoal(g.measured, g.atLeast) : judgeGoal(g.measured, g.atMost, false)) : "not measured",
      ]),
    ],
  }),
};
