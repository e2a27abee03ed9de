// docs/results/chaos/: docs/RELIABILITY.md. Two artifacts: one run's test-chaos.json (npm run
// test:chaos:record: every scenario's JSON line, the per-scenario tables and figures) and series.json (npm
// run test:chaos:series: the runs in a row). Every figure is computed from the file, nothing is keyed to a
// particular run: a new series re-renders the doc's numbers without touching these views.
import { fixed, grouped } from "../support/format.js";
import type { View } from "./view.js";

/** The run ledger's counts every scenario with a training run prints (test/chaos/support/chaos.ts countsOf). */
interface Counts {
  requested: number;
  kept: number;
  trained: number;
  unused: number;
  duplicates: number;
  duplicatesSuppressed: number;
  lost: number;
  restarts: number;
  dropped: { stale: number; staleAtLearner: number };
}
interface Answers {
  method: string;
  calls: number;
  codes: Record<string, number>;
}
interface Resume {
  from?: string;
  requested?: number;
  step?: number;
  skipped?: string[];
}
/** One scenario's JSON line: the ledger counts, and fields of its own that each view reads by name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Scenario = { scenario: string; summary?: Counts } & Record<string, any>;
interface ChaosRecord {
  exitCode: number;
  wallSeconds: number;
  passed: number | null;
  failed: number | null;
  skipped: number | null;
  tests: { name: string; result: string }[];
  scenarios: Scenario[];
}
interface Series {
  runs: number;
  passedRuns: number;
  consecutivePassedFromFirst: number;
  records: {
    dir: string;
    commit: string | null;
    clean: boolean;
    exitCode: number;
    wallSeconds: number;
    passed: number | null;
    failed: number | null;
    skipped: number | null;
    failedTests: string[];
    kill: { run: number | null; lost: number; duplicates: number }[];
    scenarios: number;
    unaccounted: { scenario: string; lost: number; duplicates: number }[];
  }[];
}

/** The first line of scenario `name`; a record without it is not the run the doc describes. */
function one(d: ChaosRecord, name: string): Scenario {
  const s = d.scenarios.find((x) => x.scenario === name);
  if (!s) throw new Error(`no "${name}" scenario line in the record`);
  return s;
}
const all = (d: ChaosRecord, name: string) => d.scenarios.filter((x) => x.scenario === name);
/** "4 and 6", "2, 5 and 8". */
const and = (xs: (string | number)[]) => (xs.length < 2 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`);
/** A range of values written once when its ends agree: "5.0" or "4.9–5.1". */
const range = (xs: string[]) => {
  const lo = xs.reduce((a, b) => (Number(a) <= Number(b) ? a : b));
  const hi = xs.reduce((a, b) => (Number(a) >= Number(b) ? a : b));
  return lo === hi ? lo : `${lo}–${hi}`;
};
/** gRPC answers as the doc writes them: "200 INVALID_ARGUMENT", or "400: 315 INVALID_ARGUMENT, 85 OK" (most first). */
function answers(a: Answers | undefined): string {
  if (!a) return "";
  const codes = Object.entries(a.codes).sort(([x, m], [y, n]) => n - m || x.localeCompare(y));
  return codes.length === 1 ? `${a.calls} ${codes[0][0]}` : `${a.calls}: ${codes.map(([c, n]) => `${n} ${c}`).join(", ")}`;
}
/** The learner's resume event (the one naming the checkpoint it started from). */
const learnerResume = (s: Scenario) => (s.resumes as Resume[]).find((r) => r.step !== undefined)!;
/** A skipped checkpoint file as the doc names it: from "step-…/" on, the run's temporary directory dropped. */
const skippedFile = (line: string) => line.slice(line.search(/step-\d+\//));
/** The vitest name of a kill run's test (kill-actors.int.test.ts names them "run <n>: ..."). */
const killTest = (d: ChaosRecord, n: number) => d.tests.find((t) => t.name.startsWith(`run ${n}: `) && t.name.includes(" kills "));
/** Whom each bus-fuzz subject feeds (test/fuzz/bus-fuzz.int.test.ts ROUTES). */
const CONSUMER: Record<string, string> = { PromptRequest: "rollout", RolloutGroup: "verifier", VerifiedGroup: "sampler", TrainingBatch: "learner" };

export const views: Record<string, View> = {
  /** The recorded run as a whole: its vitest counts and wall clock. */
  run: (d: ChaosRecord) => ({
    quotes: [`${d.passed} passed, ${d.failed} failed, ${d.skipped} skipped`, `${grouped(d.wallSeconds)} s`],
  }),
  /** What the run injected, per fault (the descriptions are the doc's, not compared). */
  faults: (d: ChaosRecord) => {
    const kills = all(d, "kill").map((k) => (k.faults as string[]).length);
    const total = kills.reduce((a, b) => a + b, 0);
    const nats = one(d, "nats-restart").restarts as { step: number; signal: string }[];
    const frozen = one(d, "sigstop").frozen as { actor: string; step: number; ms: number }[];
    const enospc = one(d, "checkpoint-enospc");
    const corrupt = one(d, "checkpoint-corrupt");
    const skipped = (learnerResume(corrupt).skipped ?? []).map((l) => /(step-\d+)\/([^:]+):/.exec(l)).map((m) => (m ? `${m[1]} ${m[2]}` : "?"));
    return {
      table: [
        ["#", "fault", "test", "in the recorded run"],
        [null, null, null, `${kills.length} runs, ${new Set(kills).size === 1 ? `${kills[0]} kills each` : `${kills.join(" + ")} kills`} (${total})`],
        [null, null, null, `${nats.length} restarts: ${nats.map((r) => `${r.signal} at step ${r.step}`).join(", ")}`],
        [null, null, null, `${frozen.length} freezes of ${range(frozen.map((f) => fixed(f.ms / 1000, 1)))} s: ${frozen.map((f) => `${f.actor} at step ${f.step}`).join(", ")}`],
        [
          null,
          null,
          null,
          `${enospc.via === "tmpfs" ? "the kernel's ENOSPC (tmpfs)" : "injected ENOSPC (no mount)"}: checkpoints of steps ${and((enospc.failures as { step: number }[]).map((f) => f.step))} fail; resumed from step ${learnerResume(one(d, "checkpoint-enospc-resume")).step}`,
        ],
        [null, null, null, `${skipped.length} corrupt (${skipped.join(", ")}): falls back to step ${learnerResume(corrupt).step}`],
      ],
    };
  },
  /** The kill scenario's ledger, one row per run, with its test's verdict. */
  kill: (d: ChaosRecord) => ({
    table: [
      ["run", "kills", "restarts", "requested", "kept", "trained", "stale at learner", "unused", "lost", "duplicates", "test"],
      ...all(d, "kill").map((k) => {
        const s = k.summary!;
        return [`run ${k.run}`, `${(k.faults as string[]).length}`, `${s.restarts}`, `${s.requested}`, `${s.kept}`, `${s.trained}`, `${s.dropped.staleAtLearner}`, `${s.unused}`, `${s.lost}`, `${s.duplicates}`, killTest(d, k.run)?.result ?? "not recorded"];
      }),
    ],
  }),
  "nats-restart": (d: ChaosRecord) => {
    const n = one(d, "nats-restart");
    const marks = n.restarts as { batchesBefore: { first: number; messages: number }; batchesAfter: { first: number; messages: number } | null }[];
    const s = n.summary!;
    return {
      quotes: [
        `${marks.map((m) => `${m.batchesBefore.messages} → ${m.batchesAfter?.messages ?? "none"}`).join(", ")}`,
        marks.every((m) => m.batchesAfter?.first === m.batchesBefore.first) ? "same first sequence" : "a different first sequence",
        `actor restarts ${s.restarts}`,
        `${s.requested} requested, ${s.trained} trained, lost ${s.lost}`,
      ],
    };
  },
  sigstop: (d: ChaosRecord) => {
    const st = one(d, "sigstop");
    const late = Object.entries(st.lateDuplicatesDropped as Record<string, number>);
    const s = st.summary!;
    return {
      quotes: [
        `${late.reduce((a, [, n]) => a + n, 0)} (${late.map(([actor, n]) => `${actor} ${n}`).join(", ")})`,
        `${s.duplicatesSuppressed} of ${st.replayedVerified}`,
        `Trained twice: ${s.duplicates}`,
      ],
    };
  },
  "checkpoint-enospc": (d: ChaosRecord) => {
    const e = one(d, "checkpoint-enospc");
    const resumed = one(d, "checkpoint-enospc-resume").resumes as Resume[];
    const cursor = resumed.find((r) => r.from !== undefined)!;
    return {
      quotes: [
        e.via === "tmpfs" ? `the filler took ${fixed(e.fillerBytes / 1e6, 2)} MB` : "injected by the learner's test hook",
        `Checkpoints of steps ${and((e.failures as { step: number }[]).map((f) => f.step))} failed`,
        `started the learner from step ${learnerResume(one(d, "checkpoint-enospc-resume")).step}`,
        `${e.summary!.requested} prompts requested → resumed at ${cursor.requested}`,
      ],
    };
  },
  "checkpoint-corrupt": (d: ChaosRecord) => {
    const r = learnerResume(one(d, "checkpoint-corrupt"));
    return { quotes: [...(r.skipped ?? []).map(skippedFile), `continued from step ${r.step}`] };
  },
  /** Per consumer: malformed payloads sent, dead-lettered, counted by the service, and the reasons given. */
  "bus-fuzz": (d: ChaosRecord) => ({
    table: [
      ["consumer", "sent / dead-lettered / counted", "by failure"],
      ...Object.entries(one(d, "bus-fuzz").report as Record<string, { sent: number; deadLettered: number; counted: number; failures: Record<string, number> }>).map(([kind, r]) => [
        `${CONSUMER[kind] ?? "?"} (\`${kind}\`)`,
        `${r.sent} / ${r.deadLettered} / ${r.counted}`,
        Object.entries(r.failures)
          .map(([why, n]) => `${why} ${n}`)
          .join(", "),
      ]),
    ],
  }),
  /** How many kinds of mutation the fuzz used: the union of the categories it sent any consumer. */
  "bus-fuzz-kinds": (d: ChaosRecord) => {
    const report = one(d, "bus-fuzz").report as Record<string, { categories: Record<string, number> }>;
    return { quotes: [`${new Set(Object.values(report).flatMap((r) => Object.keys(r.categories))).size} kinds of seeded mutation`] };
  },
  /** The training run the bus fuzz hit. */
  "bus-fuzz-run": (d: ChaosRecord) => {
    const s = one(d, "bus-fuzz").summary!;
    return { quotes: [`restarts ${s.restarts} and lost ${s.lost}`] };
  },
  /**
   * Calls per method and their answers, random requests and raw bytes side by side. Methods answered
   * alike share a row ("(each)"): the ones with no field to get wrong all answer the same.
   */
  "grpc-fuzz": (d: ChaosRecord) => {
    const rows = new Map<string, { methods: string[]; cells: [string, string] }>();
    for (const s of [one(d, "grpc-fuzz"), one(d, "grpc-fuzz-agent")]) {
      const report = s.report as Answers[];
      const raw = report.filter((a) => a.method.endsWith(" (raw bytes)"));
      for (const a of report.filter((x) => !raw.includes(x))) {
        // The agent's raw-bytes lines name the method without its service ("startActors (raw bytes)").
        const r = raw.find((x) => [a.method, a.method.split(".").pop()].includes(x.method.replace(/ \(raw bytes\)$/, "")));
        const cells: [string, string] = [answers(a), answers(r)];
        const key = cells.join("|");
        if (!rows.has(key)) rows.set(key, { methods: [], cells });
        rows.get(key)!.methods.push(a.method);
      }
    }
    return {
      table: [
        ["method", "random requests", "raw bytes"],
        ...[...rows.values()].map((r) => [`${r.methods.join(", ")}${r.methods.length > 1 ? " (each)" : ""}`, ...r.cells]),
      ],
    };
  },
  /** The training run the gRPC fuzz hit. */
  "grpc-fuzz-run": (d: ChaosRecord) => {
    const s = one(d, "grpc-fuzz").summary!;
    return { quotes: [`restarts ${s.restarts} and lost ${s.lost}`] };
  },
  "cli-input": (d: ChaosRecord) => {
    const cases = one(d, "cli-input").cases as { exit: number }[];
    const zero = cases.filter((c) => c.exit === 0).length;
    return { quotes: [`${cases.length} bad invocations`, zero ? `${zero} of them exited 0` : "each exits non-zero"] };
  },

  /** series.json: one row per recorded run. */
  series: (d: Series) => ({
    table: [
      ["run", "commit", "result", "tests passed / failed / skipped", "wall s", "kill runs: lost", "kill runs: duplicates", "failed tests"],
      ...d.records.map((r) => [
        r.dir,
        `${r.commit?.slice(0, 7) ?? "none"}${r.clean ? "" : " (uncommitted)"}`,
        r.exitCode === 0 ? "passed" : `failed (exit ${r.exitCode})`,
        [r.passed, r.failed, r.skipped].map((n) => n ?? "?").join(" / "),
        grouped(r.wallSeconds),
        r.kill.map((k) => k.lost).join(", "),
        r.kill.map((k) => k.duplicates).join(", "),
        // A test's name up to its first ";": what it does, not everything it checks.
        r.failedTests.map((t) => t.split(";")[0]).join("; ") || "none",
      ]),
    ],
  }),
  "series-summary": (d: Series) => {
    const wall = d.records.map((r) => r.wallSeconds);
    return {
      quotes: [
        `${d.passedRuns} of ${d.runs} runs passed`,
        `${d.consecutivePassedFromFirst} in a row from the first`,
        `${grouped(Math.min(...wall))}–${grouped(Math.max(...wall))} s`,
      ],
    };
  },
  /** Every scenario line of every run: how many ended with nothing lost or duplicated, and which did not. */
  lost: (d: Series) => {
    const total = d.records.reduce((a, r) => a + r.scenarios, 0);
    const off = d.records.flatMap((r) => r.unaccounted.map((u) => `${r.dir} ${u.scenario}: lost ${u.lost}, duplicates ${u.duplicates}`));
    return { quotes: [`${total - off.length} of ${total} scenario runs ended with lost = 0 and duplicates = 0`, ...off] };
  },
};
