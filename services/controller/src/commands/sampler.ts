// `lspo sampler simulate`: run the LSPO sampler over a file of groups and print the training batches it
// emits, to check the rule by hand. Batch mode is the paper's loop over generation batches of N; stream
// mode judges each group on arrival against a sliding window of W (default N).
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  type BatchSamplerConfig,
  createBatchSampler,
  createStreamSampler,
  GenRoundsExceededError,
  type Group,
  InvalidConfigError,
  InvalidGroupError,
  type SamplerStats,
  type StreamSamplerConfig,
  type TrainingBatch,
  validateGroup,
} from "@lspo/lspo";
import { UsageError, runSubcommand } from "../subcommands.js";

export const summary = "LSPO sampler: `sampler simulate` runs batch or stream mode over a groups.jsonl file and prints each training batch";

const USAGE = `usage:
  lspo sampler simulate --mode batch|stream --gen-batch N --batch-size B [--window W]
                        [--l-low a --l-high b --l-max c] [stream/batch options] <groups.jsonl | ->

Reads one group per line: {"uid": string, "lengths": number[], "rewards": number[], "correct"?: boolean[]}
(lengths are token counts; blank lines are skipped). Prints one JSON line per emitted training batch:
{"batch": k, "uids": [...], "thresholds": {"low", "high", "max", "windowFill"} | null}  (k counts from 0;
thresholds in force when the batch filled), then the sampler's statistics as one JSON line on stderr.

--mode            batch: the paper's rule per generation batch of N groups (the file in chunks of N)
                  stream: each group judged on arrival against a window of the last W slots
--gen-batch N     generation batch size (batch mode; stream mode: W's default and the --feed unit)
--batch-size B    groups per training batch
--window W        stream only: window slots (default N)
--l-low a         keep L <= Q(a)                     (default 0.30)
--l-high b        keep Q(b) <= L <= Q(c)             (default 0.65)
--l-max c         drop L > Q(c)                      (default 0.95)
--no-length-filter  accuracy filter only
--max-gen-rounds R  batch only: rounds without filling a batch before failing (default 10; 0 = no cap)
--feed group|gen-batch      stream only: offer groups one by one (default) or N at a time, all lengths
                            entering the window before any of the N is judged
--window-counts survivors|arrivals  stream only: a slot is one accuracy-passing group (default) or one
                            arrival (failed groups fill it with no length)
--overflow carry|discard    stream only: kept groups beyond B in one offered unit (default carry)
--warmup judge|accept|reject  stream only: survivors while the window is not full (default judge)

With --mode stream --feed gen-batch --window-counts arrivals --overflow discard and W = N, stream mode
prints exactly what batch mode prints.`;

const OPTIONS = {
  mode: { type: "string" },
  "gen-batch": { type: "string" },
  "batch-size": { type: "string" },
  window: { type: "string" },
  "l-low": { type: "string" },
  "l-high": { type: "string" },
  "l-max": { type: "string" },
  "no-length-filter": { type: "boolean" },
  "max-gen-rounds": { type: "string" },
  feed: { type: "string" },
  "window-counts": { type: "string" },
  overflow: { type: "string" },
  warmup: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;
type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

// Flags per mode; a flag given to the other mode is an error rather than silently ignored.
const STREAM_ONLY = ["window", "feed", "window-counts", "overflow", "warmup"] as const;
const BATCH_ONLY = ["max-gen-rounds"] as const;
// Library option -> flag, so a range error from the sampler names the flag the user typed.
const FLAG_OF: Record<string, string> = {
  batchSize: "--batch-size", window: "--window", lLow: "--l-low", lHigh: "--l-high", lMax: "--l-max", maxGenRounds: "--max-gen-rounds",
  windowCounts: "--window-counts", overflow: "--overflow", warmup: "--warmup", warmupFill: "--window",
};

function integer(flags: Flags, name: "gen-batch" | "batch-size" | "window" | "max-gen-rounds", min: number): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${raw}'`);
  return v;
}

function fraction(flags: Flags, name: "l-low" | "l-high" | "l-max"): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(v) || v < 0 || v > 1) throw new UsageError(`--${name} must be a number in [0, 1], got '${raw}'`);
  return v;
}

/** Parses groups.jsonl; a bad line fails naming its line number and field. */
export function parseGroups(text: string, source: string): Group[] {
  const groups: Group[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${source} line ${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new InvalidGroupError("", `${where}: not valid JSON (${(e as Error).message})`);
    }
    groups.push(validateGroup(value, where, true));
  });
  return groups;
}

export interface SimulateOptions {
  mode: "batch" | "stream";
  genBatch: number;
  feed: "group" | "gen-batch";
  batch?: Partial<BatchSamplerConfig>;
  stream?: Partial<StreamSamplerConfig>;
}

/** Runs the sampler over `groups`; `emit` gets each training batch as it is produced. */
export function simulate(groups: readonly Group[], o: SimulateOptions, emit: (b: TrainingBatch) => void): SamplerStats {
  const chunks = (): Group[][] => Array.from({ length: Math.ceil(groups.length / o.genBatch) }, (_, r) => groups.slice(r * o.genBatch, (r + 1) * o.genBatch));
  if (o.mode === "batch") {
    const s = createBatchSampler(o.batch);
    for (const chunk of chunks()) {
      const { batch } = s.addGenerationBatch(chunk);
      if (batch) emit(batch);
    }
    return s.stats();
  }
  const s = createStreamSampler(o.stream);
  if (o.feed === "group") {
    for (const g of groups) {
      const { batch } = s.offer(g);
      if (batch) emit(batch);
    }
  } else for (const chunk of chunks()) s.offerGenerationBatch(chunk).batches.forEach(emit);
  return s.stats();
}

function optionsFrom(flags: Flags): SimulateOptions {
  const mode = flags.mode;
  if (mode !== "batch" && mode !== "stream") throw new UsageError(`--mode must be 'batch' or 'stream', got ${mode === undefined ? "nothing" : `'${mode}'`}`);
  const genBatch = integer(flags, "gen-batch", 1);
  const batchSize = integer(flags, "batch-size", 1);
  if (genBatch === undefined) throw new UsageError("--gen-batch N is required");
  if (batchSize === undefined) throw new UsageError("--batch-size B is required");
  for (const name of mode === "batch" ? STREAM_ONLY : BATCH_ONLY) {
    if (flags[name] !== undefined) throw new UsageError(`--${name} applies to --mode ${mode === "batch" ? "stream" : "batch"} only`);
  }
  const feed = flags.feed ?? "group";
  if (feed !== "group" && feed !== "gen-batch") throw new UsageError(`--feed must be 'group' or 'gen-batch', got '${feed}'`);
  const common = {
    batchSize,
    ...(flags["l-low"] !== undefined && { lLow: fraction(flags, "l-low") }),
    ...(flags["l-high"] !== undefined && { lHigh: fraction(flags, "l-high") }),
    ...(flags["l-max"] !== undefined && { lMax: fraction(flags, "l-max") }),
    ...(flags["no-length-filter"] && { lengthFilter: false }),
  };
  const maxGenRounds = integer(flags, "max-gen-rounds", 0);
  return {
    mode,
    genBatch,
    feed,
    batch: { ...common, ...(maxGenRounds !== undefined && { maxGenRounds }) },
    stream: {
      ...common,
      window: integer(flags, "window", 1) ?? genBatch,
      ...(flags["window-counts"] !== undefined && { windowCounts: flags["window-counts"] as never }),
      ...(flags.overflow !== undefined && { overflow: flags.overflow as never }),
      ...(flags.warmup !== undefined && { warmup: flags.warmup as never }),
    },
  };
}

async function simulateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length !== 1) throw new UsageError(`expected one input file (groups.jsonl, or - for stdin), got ${positionals.length}`);
  const options = optionsFrom(values);
  const source = positionals[0] === "-" ? "<stdin>" : positionals[0];
  const text = positionals[0] === "-" ? await readStdin() : await readFile(positionals[0], "utf8");
  const groups = parseGroups(text, source);
  let stats: SamplerStats;
  try {
    stats = simulate(groups, options, (b) => console.log(JSON.stringify({ batch: b.index, uids: b.uids, thresholds: b.thresholds })));
  } catch (e) {
    // The sampler refuses an option out of range: a usage error, named by the flag the user typed.
    if (e instanceof InvalidConfigError) throw new UsageError(`${FLAG_OF[e.option] ?? e.option}: ${e.message}`);
    throw e;
  }
  console.error(JSON.stringify({ stats }));
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function run(argv: string[]): Promise<number> {
  return runSubcommand(argv, {
    command: "sampler",
    usage: USAGE,
    handlers: { simulate: simulateCommand },
    inputErrors: [InvalidGroupError, GenRoundsExceededError],
  });
}
