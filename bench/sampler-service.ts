// `npm run bench -- sampler-service [--windows 1000,100000,1000000] [--groups 20000] [--seconds 30] [--runs 5]
// [--fetch groups|none] [--lead-in on|off] [--out sampler-service-<name>.json]` (issue 18): groups/s through the real sampler service (`lspo serve sampler`) beside
// the raw JetStream path, for windows W = 1k, 100k and 1M, and the bytes the service writes to durable state.
//   service: VerifiedGroup envelopes (G = 8, a fresh uid each) published to LSPO_VERIFIED on the run's
//            subject with their summary header, as the verifier publishes them -> the sampler (stream mode,
//            B = 16, accuracy and length filters on) receives each one's header only and judges it: it
//            offers the group, publishes its judgement (grouped into `judged` events) and, for a completed
//            batch, a ledger record and the batch on LSPO_BATCHES (the groups by uid and LSPO_VERIFIED
//            sequence), and holds the ack; every sampler.snapshotEveryGroups (1,024) groups or 2 s it saves
//            its state (`sampler-<run>.snapshot` and a segment of new uids in lspo-batches) and acks what the
//            snapshot covers -> a reader thread of this process (the learner's side) consumes the batches and
//            fetches each batch's groups from LSPO_VERIFIED as the learner does (direct gets; checked by their summary headers, not decoded,
//            as the raw path decodes nothing). A group is done when its judgement arrives; the trial ends at
//            the last judgement or the last batch fetched, whichever is later. The time from there until
//            every message is acked (the last snapshot, at most 2 s later) is recorded beside it as
//            `ackLagSeconds`: durable state trails the judgements by at most one snapshot.
//   raw:     the same messages (same pool of bodies, a uid of the same length, the same header) published to
//            a stream of its own with LSPO_VERIFIED's spec (RAW_STREAM: why), consumed (a raw pull consumer, 64 messages per pull as the
//            sampler pulls, on a reader thread of its own) and acked with no processing: what the bus alone
//            sustains.
// Both readers run on threads of their own, each with its own connection (bench/lib/sampler-service-readers.ts),
// as in a deployment they are other processes than the publishers: with them on the publishers' thread, that
// thread was 95-99% busy through every raw trial (performance.eventLoopUtilization, ad hoc), so the raw rate
// was the bench's own. Each trial records the publishers' thread's busy share (`publisherThreadBusy`).
// `--fetch none` is a diagnostic (sampler-service-nofetch.json): the batches are consumed, their groups not
// fetched, which shows what the learner side's fetch costs. `--out` names a variant's result file (a diagnostic
// with other flags, e.g. longer trials), so that it never overwrites the measurement.
// Each trial starts after a `sync` (the last trial's file-store writes reach the disk untimed, not ~30 s later
// in the middle of another trial), and after it its messages are purged but for the kept groups still waiting
// for a batch (every trial starts on a stream of the same size, as with the work queue this stream was).
// groups/s = groups done / (last done - first publish). Both paths publish the same way: up to 64 publishes
// in flight, each pub-acked, and at most `cap` groups published and not yet done, where cap is the path's
// own rate so far times 0.5 s (2..512): enough queued that the consumer never waits for the publisher,
// few enough that a slow service (W = 1M) has at most about 0.5 s of work, or 2 groups, left when a
// trial's time bound stops the publishing. A trial publishes at most --groups groups (a service trial: at
// most 1.5x what its last measured rate fills --seconds with) and stops publishing after --seconds, then
// waits for what it published; a trial stopped by the time bound is marked `bounded`, and its rate is what
// the service did in that time (at W = 1k the service runs are bounded by --seconds, not by --groups).
// Uids are ~20 characters, like the controller's `<example id>@<epoch>.<position>`.
//
// The window is full before anything is timed. Filling W = 100k through the service would take ~143k
// groups (70% survive the accuracy filter), hours at the rates the service reaches with a large window,
// so the bench fills it in this process instead: the service's own SamplerCore (services/sampler) is
// offered fresh-uid groups from the same pool until W survivors' lengths are held, and saved by the
// service's own DurableState (snapshot + uid segment) before the service starts, which restores it,
// exactly as a restarted sampler does.
//
// Bytes written to durable state per group, from what the service wrote during the service trials:
//   state:    every object-store write (the object store's metadata messages, `$O.lspo-batches.M.>`, each
//             carrying the object's size) of `sampler-<run>.snapshot`, of its uid segments
//             (`sampler-<run>.snapshot.uids.*`) and of its window log (`sampler-<run>.snapshot.window.*`: the
//             slots pushed since the last save, and now and then the whole window), over the groups judged;
//             writes per group and bytes per group.
//   output:   the bytes the service publishes to kept streams: LSPO_EVENTS (judged + ledger) and
//             LSPO_BATCHES (batches, which name their groups; objectsByReference stays for batches put in the
//             object store, which the sampler no longer does).
//   and, as a cross-check, nats-server's write-syscall bytes (/proc/<pid>/io wchar) over the service
//   trials per group (every stream's file store: the incoming verified groups too).
// Beside them, per timed trial and path: nats-server's reads from storage (/proc/<pid>/io read_bytes: block files
// the page cache no longer held), and the machine's I/O pressure (/proc/pressure/io) before and after the run.
// After each window: the snapshot's size from the object store (info) and what it holds (the held groups'
// summaries msgpack-encoded on their own, the uid segments, the window log).
//
// Each run times both paths, raw then service (with --lead-in off, alternating which goes first); ratio =
// service/raw of the same run; reported as median (min–max) over runs; goal: service >= 0.8 x raw at
// W = 100k (judgeGoal: on the wall-clock median with its spread).
//
// Lead-in trials (`--lead-in on`, the default): each timed trial follows an untimed trial of the same path and
// size. In an ad-hoc run of pairs (raw, raw, service, service) x 3, the first service trial after a raw one ran at
// about half the speed of the next (1,160-1,440 vs 2,340-2,760 groups/s at W = 100k, 3 of 3 pairs), while the
// raw path after the service path lost nothing; nats-server's CPU per group doubled in that trial (610-730 vs 240-310 us).
// Its CPU profile (nats-server's pprof endpoint) put the difference in the file store's write path:
// msgBlock.writeMsgRecord appending ~110 KB messages to the block's write cache, growing it (growslice:
// memmove + memclr) 48-61% of the server's time in two slow trials, 29% in a fast one (an ad-hoc profiling
// run). It is the server's Go heap: with nats-server's GC off (GOGC=off, GOMEMLIMIT=6GiB) the first service
// trial after a raw one ran as fast as the next (3 of 3), though the GC's bursts then hit other trials at
// random. Not the cause: the raw messages sharing the stream (a separate stream for them: the same), the raw
// consumer's deliveries (headers-only: the same), idling (6 s pauses between service trials: no slowdown).
// A short lead-in (1,000 groups) did not help; one of the timed trial's size does. A trial so measures each
// path after its own kind of traffic, steadily, as a deployment's bus carries it (not switching to another
// kind every few seconds); the lead-ins' own rates, each the first trial after the other path's, are recorded
// beside (runs[].leadIn, leadIn). `--lead-in off` is the bare alternation.
//
// CPU seconds per group of the sampler process, nats-server and this process are recorded beside the wall
// clock: the machine is shared, and its load average is recorded before and after.
// Writes bench/results/sampler-service.json. A full run takes 14-21 minutes (so it runs by name only).
// Smoke form (seconds): npm run bench -- sampler-service --windows 1000 --groups 500 --runs 1 --seconds 10
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  OBJECT_STORES, STREAMS, connectBus, decodeEnvelope, deleteObject, encodeEnvelope, ensureConsumer, ensureStream, ensureStreams, eventSubject, getBlob,
  jetstream, jetstreamManager, openObjectStore, payloadLimits, runBoundsOf, samplerSnapshotObject, startNatsServer, subjectFor, summaryOf, verifiedHeaders,
  type JetStreamClient, type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import { resolveConfig, type RunConfig } from "@lspo/config";
import { KEPT_OUTCOMES } from "@lspo/controller";
import { createModelFromSpec } from "@lspo/model";
import { DurableState, MAX_WINDOW_SEGMENTS, SamplerCore, type PersistedSampler } from "@lspo/sampler";
import { writeModelDir } from "@lspo/tasks";
import { startProvenance } from "@lspo/telemetry";
import { cpuSecondsOf, startService, type Service } from "./lib/serve.js";
import { fmt, judgeGoal, machine, secondsSince, summarize, type Summary } from "./lib/stats.js";
import { ReaderThread } from "./lib/sampler-service-readers.js";
import { MAX_LEN, groupPool, type GroupPool } from "./lib/verified.js";
// Recorded from the start: a tree that changes while the benchmark runs makes the result "uncommitted".
const provenance = startProvenance({ ignore: /^bench\/results\// });

const USAGE = "usage: npm run bench -- sampler-service [--windows 1000,100000,1000000] [--groups 20000] [--seconds 30] [--runs 5] [--fetch groups|none] [--lead-in on|off] [--out sampler-service-<name>.json]";
const { values: flags } = parseArgs({
  options: {
    windows: { type: "string", default: "1000,100000,1000000" },
    groups: { type: "string", default: "20000" },
    seconds: { type: "string", default: "30" },
    runs: { type: "string", default: "5" },
    fetch: { type: "string", default: "groups" },
    "lead-in": { type: "string", default: "on" },
    out: { type: "string" },
  },
  strict: true,
});
const positiveInts = (s: string, what: string): number[] => {
  const xs = s.split(",").map(Number);
  if (!s || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`bench sampler-service: --${what} takes positive integers, got '${s}'\n${USAGE}`);
  return xs;
};
const WINDOWS = positiveInts(flags.windows!, "windows");
/**
 * Groups per trial at most, each path: 20,000 (about 10 s, 2.2 GB). With 8,000 (3-4 s) nats-server's CPU per
 * group swung up to 2x between trials of the same work, and the ratio's spread at W = 100k was 0.68-1.02 (at
 * commit 5e5cb96); the same commit with 20,000-group trials: 0.81-0.97 (bench/results/sampler-service-long.json,
 * docs/BENCHMARKS.md). The goal asks what the service sustains.
 */
const GROUPS = positiveInts(flags.groups!, "groups")[0];
/** A trial stops publishing after this long, and waits only for what it published. */
const SECONDS = positiveInts(flags.seconds!, "seconds")[0];
const RUNS = positiveInts(flags.runs!, "runs")[0];
/**
 * `groups` (the measurement): the learner's side fetches every batch's groups from LSPO_VERIFIED. `none` (a
 * diagnostic, written to sampler-service-nofetch.json): it takes the batch messages only, which shows what
 * the fetch costs.
 */
const FETCH = flags.fetch!;
/** `on` (the measurement): each timed trial follows an untimed one of its own path. `off`: the bare alternation. */
const LEAD_IN = flags["lead-in"] === "on";
if (flags["lead-in"] !== "on" && flags["lead-in"] !== "off") throw new Error(`bench sampler-service: --lead-in takes on or off, got '${flags["lead-in"]}'\n${USAGE}`);
/**
 * The result's file in bench/results: sampler-service.json (the measurement), sampler-service-nofetch.json
 * (--fetch none), or a diagnostic's own name (--out), so a variant never overwrites the measurement.
 */
const OUT = flags.out ?? (FETCH === "none" ? "sampler-service-nofetch.json" : "sampler-service.json");
if (!/^sampler-service(-[a-z0-9]+)*\.json$/.test(OUT)) throw new Error(`bench sampler-service: --out takes a file name sampler-service-<name>.json, got '${OUT}'\n${USAGE}`);
if (FETCH !== "groups" && FETCH !== "none") throw new Error(`bench sampler-service: --fetch takes groups or none, got '${FETCH}'\n${USAGE}`);

const G = 8;
const B = 16;
const GOAL_WINDOW = 100_000;
const GOAL = 0.8;
const POLICY_VERSION = 1n; // every group's: none is stale
const IN_FLIGHT = 64; // publishes awaiting their pub-ack at once (bench/bus.ts)
const PULL_BATCH = 64; // the sampler's pull batch (services/sampler/src/main.ts), used by the raw consumer too
const CAP_SECONDS = 0.5;
const MIN_CAP = 2;
const MAX_CAP = 512;
const POOL = 256; // distinct group bodies; every message has its own uid
/** Beyond --seconds, how long a trial may take to finish what it published before the bench fails. */
const FINISH_LIMIT_S = 600;
const RUN_PREFIX = "bench-ssb";
/**
 * The raw path's messages go to a stream of their own, with LSPO_VERIFIED's spec (file storage, limits, direct
 * gets), so that every purge is unfiltered. nats-server 2.9.10 does not take a purge with a subject filter off
 * the account's storage usage (ad hoc: 100 messages of 100 KB purged by filter left the account at 10 MB with
 * the stream empty; an unfiltered purge subtracts what it removes): with the raw messages on LSPO_VERIFIED and
 * purged by subject, that phantom usage grew 2.2 GB per trial of 20,000 groups until JetStream refused
 * publishes ("insufficient resources") at the second window.
 */
const RAW_STREAM = "BENCH_RAW";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

/**
 * A process's I/O counters (/proc/<pid>/io; NaN when unreadable): wchar, the bytes it wrote through write
 * syscalls, and read_bytes, the bytes it made the kernel read from storage (page-cache misses: nats-server
 * reading a block file the page cache no longer holds).
 */
function ioOf(pid: number): { wchar: number; readBytes: number } {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/io`, "utf8");
  } catch {
    // unreadable: NaN below
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return { wchar: field("wchar"), readBytes: field("read_bytes") };
}

/** The machine's I/O pressure (/proc/pressure/io: the share of time some task waited on I/O, over 10 s, 60 s
 *  and 300 s); null where the kernel does not report it. The trials write ~0.9 GB each to one disk. */
function ioPressure(): { avg10: number; avg60: number; avg300: number } | null {
  try {
    const m = /^some avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+)/m.exec(readFileSync("/proc/pressure/io", "utf8"));
    return m ? { avg10: Number(m[1]), avg60: Number(m[2]), avg300: Number(m[3]) } : null;
  } catch {
    return null;
  }
}

/** Groups done in the current trial, with the time of the last one; wakes the publisher on each. */
class Progress {
  done = 0;
  lastAt = 0;
  private waiters: Array<() => void> = [];
  mark(): void {
    this.markMany(1, now());
  }
  /** `n` more done, the last at `at` (this thread's performance.now() clock). */
  markMany(n: number, at: number): void {
    this.done += n;
    this.lastAt = Math.max(this.lastAt, at);
    for (const w of this.waiters.splice(0)) w();
  }
  /** Resolves on the next group done, or after `ms` (so time bounds are checked while nothing finishes). */
  changed(ms = 200): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }
}

/** What the service wrote, cumulative over a window's life (a trial takes differences). */
interface Written {
  snapshotWrites: number;
  uidSegmentWrites: number;
  uidSegmentBytes: number;
  windowSegmentWrites: number;
  windowSegmentBytes: number;
  /** Window segments that hold the whole window (a new base: W slots, 8 bytes each). */
  windowBaseWrites: number;
  snapshotBytes: number;
  otherObjectWrites: number;
  otherObjectBytes: number;
  events: number;
  eventsBytes: number;
  batches: number;
  batchesBytes: number;
}
const zeroWritten = (): Written => ({ snapshotWrites: 0, snapshotBytes: 0, uidSegmentWrites: 0, uidSegmentBytes: 0, windowSegmentWrites: 0, windowSegmentBytes: 0, windowBaseWrites: 0, otherObjectWrites: 0, otherObjectBytes: 0, events: 0, eventsBytes: 0, batches: 0, batchesBytes: 0 });
/** Bytes written to durable state: the snapshots and their uid and window segments. */
const stateBytes = (w: Written) => w.snapshotBytes + w.uidSegmentBytes + w.windowSegmentBytes;
const minus = (a: Written, b: Written): Written => Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof Written] - b[k as keyof Written]])) as unknown as Written;

type Path = "service" | "raw";
interface Trial {
  path: Path;
  /** Groups the trial meant to publish (service: sized from the rate measured before, at most --groups). */
  planned: number;
  published: number;
  done: number;
  seconds: number;
  groupsPerS: number;
  /** The time bound stopped the publishing before `planned`. */
  bounded: boolean;
  /**
   * The share of the trial (until its last group was done) the publishers' thread was busy
   * (performance.eventLoopUtilization): near 1 would mean the bench, not the bus, set the rate.
   */
  publisherThreadBusy: number;
  /** CPU seconds per group of each process over the trial. */
  cpuMicrosPerGroup: { sampler: number; natsServer: number; bench: number };
  /** Service trials: what the service wrote, and the batches this process consumed. */
  written?: Written;
  natsWcharBytes: number;
  /** nats-server's reads from storage over the trial (page-cache misses), bytes. */
  natsReadBytes: number;
  batchesConsumed?: number;
  groupsInBatches?: number;
  /** Service trials: from the last judgement until every message was acked (the covering snapshot). */
  ackLagSeconds?: number;
}

/** One window's live setup: the service, its consumers and the counters they feed. */
interface Level {
  W: number;
  run: string;
  rawSubject: string;
  service: Service;
  natsPid: number;
  written: Written;
  /** The current trial's progress per path (null between trials). */
  current: { service: { progress: Progress; prefix: string; seen: Set<string> } | null; raw: Progress | null };
  batchesConsumed: number;
  groupsInBatches: number;
  lastBatchAt: number;
  /**
   * The raw path's consumer, pulling only during a raw trial (it returns its stop): during a service trial
   * nothing but the service's own readers pulls, as in a deployment.
   */
  startRaw: () => Promise<() => Promise<void>>;
  /** The reader threads (learner, raw consumer): a failed one fails the trial. */
  readers: ReaderThread[];
  /** Service path: the kept groups' LSPO_VERIFIED sequences (from their judgements) until a batch names them. */
  keptUnbatched: Map<string, number>;
  batched: Set<string>;
}


/** Runs `window` publishing lanes side by side until each returns. */
async function lanes(window: number, lane: () => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: window }, lane));
}

async function waitFor(what: string, deadline: number, ok: () => boolean | Promise<boolean>, alive: () => void): Promise<void> {
  for (;;) {
    if (await ok()) return;
    alive();
    if (now() > deadline) throw new Error(`bench sampler-service: ${what} did not happen in time`);
    await sleep(20);
  }
}

async function trial(
  path: Path, level: Level, js: JetStreamClient, jsm: JetStreamManager, pool: GroupPool, n: number, seconds: number, initialRate: number, tag: string,
): Promise<Trial> {
  // Envelopes first, untimed: a fresh uid each, the same length on both paths (the tag differs by its letter).
  const uids = Array.from({ length: n }, (_, i) => `${tag}-${String(i).padStart(7, "0")}@0`);
  // Each with its summary header, as the verifier publishes it (both paths: the same messages).
  const msgs = uids.map((u, i) => ({ data: pool.envelope(i, u), headers: verifiedHeaders(pool.group(i, u)) }));
  const subject = path === "service" ? subjectFor("verified", level.run) : level.rawSubject;
  const progress = new Progress();
  if (path === "service") level.current.service = { progress, prefix: `${tag}-`, seen: new Set() };
  else level.current.raw = progress;
  const alive = () => {
    for (const r of level.readers) r.check();
    const c = level.service.child;
    if (c.exitCode !== null || c.signalCode !== null) throw new Error(`the sampler exited (${c.exitCode ?? c.signalCode}); its log: ${level.service.logPath}`);
  };
  gc();
  // The last trial's file-store writes reach the disk now, not during this trial (the kernel writes dirty
  // pages back about 30 s later, in the background: ~0.9 GB per trial on this machine's one disk).
  spawnSync("sync");
  const written0 = { ...level.written };
  const batches0 = { n: level.batchesConsumed, groups: level.groupsInBatches };
  const cpu0 = { sampler: level.service.cpuSeconds(), nats: cpuSecondsOf(level.natsPid), bench: process.cpuUsage() };
  const io0 = ioOf(level.natsPid);

  const stopRaw = path === "raw" ? await level.startRaw() : null;
  const t0 = now();
  const loop0 = performance.eventLoopUtilization();
  let next = 0;
  let published = 0;
  let bounded = false;
  const cap = () => {
    const elapsed = (now() - t0) / 1000;
    const rate = progress.done >= 8 && elapsed > 0.2 ? progress.done / elapsed : initialRate;
    return Math.min(MAX_CAP, Math.max(MIN_CAP, Math.ceil(rate * CAP_SECONDS)));
  };
  await lanes(IN_FLIGHT, async () => {
    while (next < n) {
      if (now() - t0 > seconds * 1000) {
        bounded = true;
        return;
      }
      if (published - progress.done >= cap()) {
        alive();
        await progress.changed();
        continue;
      }
      const i = next++;
      published++;
      const ack = await js.publish(subject, msgs[i].data, { msgID: uids[i], headers: msgs[i].headers });
      if (ack.duplicate) throw new Error(`${path}: publish of ${uids[i]} was dropped as a duplicate`);
    }
  });
  const deadline = now() + (seconds + FINISH_LIMIT_S) * 1000;
  await waitFor(`${path} finishing ${published} groups`, deadline, () => progress.done >= published, alive);
  const publisherThreadBusy = performance.eventLoopUtilization(loop0).utilization;
  await stopRaw?.();
  let end = progress.lastAt;
  let ackLagSeconds: number | undefined;
  if (path === "service") {
    // Every judged group acked (so every batch it completed is on LSPO_BATCHES), then every batch consumed.
    const durable = `sampler-${level.run}`;
    await waitFor("the sampler's acks", deadline, async () => {
      const i = await jsm.consumers.info(STREAMS.verified.name, durable);
      return i.num_ack_pending === 0 && i.num_pending === 0;
    }, alive);
    ackLagSeconds = (now() - progress.lastAt) / 1000;
    await waitFor("the batches' consumption", deadline, async () => {
      const i = await jsm.consumers.info(STREAMS.batches.name, `bench-learner-${level.run}`);
      return i.num_ack_pending === 0 && i.num_pending === 0 && level.batchesConsumed - batches0.n === level.written.batches - written0.batches;
    }, alive);
    if (level.batchesConsumed > batches0.n) end = Math.max(end, level.lastBatchAt);
  }
  const seconds_ = (end - t0) / 1000;
  const benchCpu = process.cpuUsage(cpu0.bench);
  const io1 = ioOf(level.natsPid);
  const done = progress.done;
  const per = (s: number) => (s * 1e6) / done;
  if (path === "service") level.current.service = null;
  else level.current.raw = null;
  const out: Trial = {
    path, planned: n, published, done, seconds: seconds_, groupsPerS: done / seconds_, bounded, publisherThreadBusy,
    cpuMicrosPerGroup: {
      sampler: per(level.service.cpuSeconds() - cpu0.sampler), natsServer: per(cpuSecondsOf(level.natsPid) - cpu0.nats), bench: per((benchCpu.user + benchCpu.system) / 1e6),
    },
    natsWcharBytes: io1.wchar - io0.wchar,
    natsReadBytes: io1.readBytes - io0.readBytes,
  };
  if (path === "service") {
    out.written = minus(level.written, written0);
    out.batchesConsumed = level.batchesConsumed - batches0.n;
    out.groupsInBatches = level.groupsInBatches - batches0.groups;
    out.ackLagSeconds = ackLagSeconds;
  }
  // What the trial published is done with (judged, acked, the kept groups' batches fetched), but for the kept
  // groups still waiting for a batch: purged, so every trial starts on a stream of the same size (as with
  // a work queue; a deployment's stays bounded by bus.verifiedMaxAgeS / verifiedMaxBytes).
  const keep = path === "service" ? Math.min(...level.keptUnbatched.values()) : Infinity;
  // Unfiltered purges only (see RAW_STREAM): the stream holds this run's messages alone.
  if (path === "service") await jsm.streams.purge(STREAMS.verified.name, { seq: Number.isFinite(keep) ? keep : (await jsm.streams.info(STREAMS.verified.name)).state.last_seq + 1 });
  else await jsm.streams.purge(RAW_STREAM);
  return out;
}

/** The service's state after judging enough fresh groups to hold W survivor lengths: its own core, saved by its own DurableState. */
async function seedSnapshot(config: RunConfig, pool: GroupPool, W: number, durable: DurableState): Promise<{ bytes: number; windowBaseBytes: number; groups: number; seconds: number }> {
  const t = process.hrtime.bigint();
  const core = new SamplerCore(config.sampler, config.run.maxOffPolicySteps);
  // Checked every `step` offers (stats() is not free), a step small beside W so the fill stops near W / 0.7.
  const step = Math.max(1, Math.min(1000, Math.floor(W / 100)));
  let i = 0;
  while ((core.stats().window?.slots ?? 0) < W) {
    for (const end = i + step; i < end; i++) core.offer(summaryOf(pool.group(i, `seed-${W}-${i}@0`)));
  }
  // The seed groups were never on the stream (a batch could not name them): the few kept ones still waiting
  // for a batch are let go, so the timed batches name timed groups only. The window's lengths stay.
  core.closeRun();
  core.takeDropped();
  const saved = await durable.save(core, 0);
  if (!saved.windowBase) throw new Error("bench sampler-service: the seed's save did not write the window whole");
  return { bytes: saved.snapshotBytes + saved.uidBytes + saved.windowBytes, windowBaseBytes: saved.windowBytes, groups: i, seconds: secondsSince(t) };
}

/** The snapshot after the run: its size from the object store, and what its parts weigh encoded alone. */
async function snapshotAtEnd(store: Awaited<ReturnType<typeof openObjectStore>>, name: string) {
  const info = await store.info(name);
  if (!info) throw new Error(`object ${name} is missing`);
  const snap = decodeEnvelope(await getBlob(store, name), "SamplerSnapshot").body as PersistedSampler;
  const size = (v: unknown) => encodeEnvelope("SamplerSnapshot", v).byteLength;
  const sizeOf = async (name: string) => (await store.info(name))?.size ?? Number.NaN;
  const segments = await Promise.all(snap.uidSegments.map((g) => sizeOf(g.name)));
  const windowLog = snap.windowSegments ?? [];
  const windowBytes = await Promise.all(windowLog.map((g) => sizeOf(g.name)));
  return {
    objectBytes: info.size,
    chunks: info.chunks,
    uids: snap.uidSegments.reduce((n, g) => n + g.count, 0),
    uidSegments: { count: segments.length, bytes: segments.reduce((a, b) => a + b, 0) },
    // The window's log: a base and the slots pushed since (durable.ts); the window is its last W slots.
    windowSegments: { count: windowLog.length, slots: windowLog.reduce((n, g) => n + g.slots, 0), bytes: windowBytes.reduce((a, b) => a + b, 0) },
    pendingGroups: snap.core.held.length,
    encodedBytesOfParts: {
      pendingHeld: size(snap.core.held),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------

const started = process.hrtime.bigint();
const loadBefore = loadavg();
const ioPressureBefore = ioPressure();
const dir = mkdtempSync(join(tmpdir(), "lspo-bench-ssb-"));
// A tiny model: the sampler reads only its config.json (vocabulary, context) to bound payloads.
const model = createModelFromSpec({
  seed: 0,
  model: { model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 4096, tie_word_embeddings: true },
});
const modelDir = join(dir, "model");
writeModelDir(modelDir, model);
const pool = groupPool(POOL, G, 48, model.config.vocabSize, POLICY_VERSION);
const envelopeBytes = summarize(Array.from({ length: POOL }, (_, i) => pool.envelope(i, `x-${String(i).padStart(7, "0")}@0`).byteLength));

// 8 MB max payload, as `lspo train`'s embedded server: batches of 16 such groups travel inline.
const server = await startNatsServer({ storeDir: join(dir, "nats"), maxPayload: 8 * 1024 * 1024 });
const nc: NatsConnection = await connectBus({ url: server.url, name: "bench-sampler-service" });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);
await ensureStreams(jsm);
// The raw path's stream: LSPO_VERIFIED's own spec under another name (see RAW_STREAM).
await ensureStream(jsm, { ...STREAMS.verified, name: RAW_STREAM, subjects: ["bench.raw.>"], description: "the raw path of bench/sampler-service.ts" });
const store = await openObjectStore(nc, OBJECT_STORES.batches);

const configFor = (run: string, W: number): RunConfig =>
  resolveConfig({
    // Staleness is not what this measures: every group is sampled by the learner's version.
    run: { name: run, dir: join(dir, run), steps: 1_000_000, maxOffPolicySteps: 1_000_000 },
    nats: { url: server.url },
    model: { dir: modelDir },
    rollout: { groupSize: G, maxNewTokens: MAX_LEN },
    // ackWait 10 min: at W = 1M one judgement takes seconds, and a group waiting in the sampler's pull
    // buffer must not be redelivered (judged again as a duplicate) while the one before it is persisted.
    sampler: { mode: "stream", batchSize: B, window: W, accuracyFilter: true, lengthFilter: true, ackWaitMs: 600_000 },
  });

interface Row {
  window: number;
  seed: { groups: number; seconds: number; stateBytes: number; windowBaseBytes: number };
  serviceStartSeconds: number;
  warmUp: { service: Trial; raw: Trial };
  /** `leadIn`: the untimed trial of the same path just before each timed one (absent with --lead-in off). */
  runs: Array<{ service: Trial; raw: Trial; ratio: number; leadIn?: { service: Trial; raw: Trial } }>;
  serviceGroupsPerS: Summary;
  rawGroupsPerS: Summary;
  ratio: Summary;
  /** The lead-in trials' rates and ratio (each the first trial of its path after the other path's). */
  leadIn?: { serviceGroupsPerS: Summary; rawGroupsPerS: Summary; ratio: Summary };
  boundedServiceRuns: number;
  durable: {
    snapshotWritesPerGroup: Summary;
    snapshotBytesPerGroup: Summary;
    uidSegmentBytesPerGroup: Summary;
    windowSegmentBytesPerGroup: Summary;
    stateBytesPerGroup: Summary;
    /**
     * The window's base, rewritten every `everyGroups` groups by durable.ts's rule: `bytes` measured (the
     * seed's base), `everyGroups` = min(MAX_WINDOW_SEGMENTS snapshots, W / window slots pushed per group),
     * both from this run. `seenInTrials`: bases the trials wrote (then stateBytesPerGroup holds them).
     */
    windowBase: { bytes: number; everyGroups: number; seenInTrials: number };
    /** stateBytesPerGroup plus, when no trial wrote a base, the base's bytes over the groups between bases. */
    stateBytesPerGroupSteady: Summary;
    outputBytesPerGroup: { events: Summary; batches: Summary; objectsByReference: Summary };
    totalBytesPerGroup: Summary;
    natsServerWcharBytesPerGroup: Summary;
  };
  keptFraction: number;
  cpuMicrosPerGroup: { serviceSampler: Summary; serviceNatsServer: Summary; serviceBench: Summary; rawNatsServer: Summary; rawBench: Summary };
  /** nats-server's reads from storage per group over each timed trial (Trial.natsReadBytes). */
  natsReadBytesPerGroup: { service: Summary; raw: Summary };
  /** The publishers' thread's busy share per timed trial (Trial.publisherThreadBusy). */
  publisherThreadBusy: { service: Summary; raw: Summary };
  snapshotAtEnd: Awaited<ReturnType<typeof snapshotAtEnd>>;
}

async function measureWindow(W: number): Promise<Row> {
  const run = `${RUN_PREFIX}-${W}`;
  const config = configFor(run, W);
  const snapshotName = samplerSnapshotObject(run);
  const bounds = runBoundsOf(config, { vocabSize: model.config.vocabSize, maxPositionEmbeddings: model.config.maxPositionEmbeddings });

  const seed = await seedSnapshot(config, pool, W, new DurableState(nc, store, snapshotName));
  console.log(`W=${W}: window filled with ${seed.groups} groups in ${seed.seconds.toFixed(1)} s; snapshot and uids ${(seed.bytes / 1e6).toFixed(2)} MB`);
  gc();
  // The learner's side: a durable on the run's batches subject, consumed through the typed path.
  await ensureConsumer(jsm, STREAMS.batches.name, `bench-learner-${run}`, { filterSubject: subjectFor("batches", run), ackWaitMs: 600_000 });
  const rawSubject = `bench.raw.${run}`;
  await ensureConsumer(jsm, RAW_STREAM, `bench-raw-${run}`, { filterSubject: rawSubject, ackWaitMs: 600_000 });

  const t = process.hrtime.bigint();
  const service = startService("sampler", config, { name: `sampler-${run}`, logDir: dir, readyTimeoutMs: 900_000 });
  await service.ready;
  const serviceStartSeconds = secondsSince(t);
  const level: Level = {
    W, run, rawSubject, service, natsPid: server.pid, startRaw: () => Promise.reject(new Error("raw consumer not set up")), readers: [], written: zeroWritten(), current: { service: null, raw: null }, batchesConsumed: 0, groupsInBatches: 0, lastBatchAt: 0, keptUnbatched: new Map(), batched: new Set(),
  };

  // What the service writes: object-store metadata (one message per put, with the object's size), its events
  // (the `judged` ones also mark groups done) and its batches, seen by core subscriptions on their subjects.
  const baseSize = encodeEnvelope("SamplerWindow", new Uint8Array(8 * W)).byteLength;
  const metaSub = nc.subscribe(`$O.${OBJECT_STORES.batches}.M.>`, {
    callback: (_err, m) => {
      const info = m.json<{ name: string; size: number; deleted?: boolean }>();
      if (info.deleted) return;
      if (info.name === snapshotName) {
        level.written.snapshotWrites++;
        level.written.snapshotBytes += info.size;
      } else if (info.name.startsWith(`${snapshotName}.uids.`)) {
        level.written.uidSegmentWrites++;
        level.written.uidSegmentBytes += info.size;
      } else if (info.name.startsWith(`${snapshotName}.window.`)) {
        level.written.windowSegmentWrites++;
        level.written.windowSegmentBytes += info.size;
        // The seeded window is full, so a base holds W slots and a segment of new slots fewer (durable.ts).
        if (info.size === baseSize) level.written.windowBaseWrites++;
      } else if (info.name.includes(run)) {
        level.written.otherObjectWrites++;
        level.written.otherObjectBytes += info.size;
      }
    },
  });
  const judgedSubject = eventSubject(run, "judged");
  const eventsSub = nc.subscribe(eventSubject(run, "*"), {
    callback: (_err, m) => {
      level.written.events++;
      level.written.eventsBytes += m.data.byteLength;
      const cur = level.current.service;
      if (m.subject !== judgedSubject) return;
      // One event judges consecutive groups (services/sampler judgedEvent).
      for (const j of (decodeEnvelope(m.data, "RunEvent").body as { judgements: Array<{ uid: string; outcome: string; seq: number }> }).judgements) {
        // (A batch can reach the learner's connection before its groups' judgements reach this one.)
        if (KEPT_OUTCOMES.has(j.outcome) && !level.batched.has(j.uid)) level.keptUnbatched.set(j.uid, j.seq);
        if (cur && j.uid.startsWith(cur.prefix) && !cur.seen.has(j.uid)) {
          cur.seen.add(j.uid);
          cur.progress.mark();
        }
      }
    },
  });
  const batchesSub = nc.subscribe(subjectFor("batches", run), {
    callback: (_err, m) => {
      level.written.batches++;
      level.written.batchesBytes += m.data.byteLength;
    },
  });
  await nc.flush();
  // The two readers, each on a thread and a connection of its own (bench/lib/sampler-service-readers.ts): in a
  // deployment the learner and a stream's consumer are other processes than the publishers, and on this
  // process's thread the bench measured its own event loop (busy 95-99% through every raw trial).
  const toShared = (at: number) => at - performance.timeOrigin;
  const learner = await ReaderThread.open(
    { role: "learner", url: server.url, run, stream: STREAMS.batches.name, durable: `bench-learner-${run}`, fetch: FETCH as "groups" | "none", batchSize: B, maxBatchBytes: payloadLimits(bounds).TrainingBatch },
    (r) => {
      if (r.type !== "batch") return;
      level.batchesConsumed++;
      level.groupsInBatches += r.groups;
      for (const uid of r.uids) {
        level.keptUnbatched.delete(uid);
        level.batched.add(uid);
      }
      level.lastBatchAt = toShared(r.at);
    },
  );
  const raw = await ReaderThread.open(
    { role: "raw", url: server.url, run, stream: RAW_STREAM, durable: `bench-raw-${run}`, pullBatch: PULL_BATCH },
    (r) => {
      if (r.type === "done") level.current.raw?.markMany(r.n, toShared(r.at));
    },
  );
  level.readers = [learner, raw];
  level.startRaw = async () => {
    await raw.start();
    return () => raw.stop();
  };

  let tagNo = 0;
  const tag = (p: Path) => `${p === "service" ? "s" : "r"}${W}t${String(tagNo++).padStart(3, "0")}`;
  // Untimed warm-up (JIT, connections, the first snapshot write after the restore); its rates size the first
  // run. (A 32-group service warm-up measured latency, ~140 groups/s, which sized the first run's service
  // trials at ~6,400 groups and paced their start at that rate: the first run's ratio was the lowest of five
  // at every W in the run of 3603599.)
  // Raw first: the first run's raw lead-in then follows a service trial, as every later one does.
  const warmRaw = await trial("raw", level, js, jsm, pool, Math.min(GROUPS, 200), Math.min(SECONDS, 5), 0, tag("raw"));
  const warmService = await trial("service", level, js, jsm, pool, Math.min(GROUPS, 1000), Math.min(SECONDS, 5), 0, tag("service"));
  let serviceRate = warmService.groupsPerS;
  let rawRate = warmRaw.groupsPerS;
  const runs: Row["runs"] = [];
  for (let r = 0; r < RUNS; r++) {
    // With lead-ins, raw then service in every run: each lead-in is then the first trial after the other path's
    // (the service's after the raw trial just before, the raw one's after the last run's service trial).
    const order: Path[] = !LEAD_IN && r % 2 ? ["service", "raw"] : ["raw", "service"];
    const got: Partial<Record<Path, Trial>> = {};
    const leadIn: Partial<Record<Path, Trial>> = {};
    for (const p of order) {
      // The service trial is sized to about 1.5x what the last rate fills --seconds with; the time bound
      // stops the publishing when the rate falls below that.
      const n = p === "service" ? Math.min(GROUPS, Math.ceil(serviceRate * SECONDS * 1.5) + MIN_CAP) : GROUPS;
      // An untimed lead-in of the same path and size first (see the header: the first trial after the other
      // path's ran at up to half speed, its cost in nats-server's file-store writes).
      leadIn[p] = LEAD_IN ? await trial(p, level, js, jsm, pool, n, SECONDS, p === "service" ? serviceRate : rawRate, tag(p)) : undefined;
      if (leadIn[p] && p === "service") serviceRate = leadIn[p].groupsPerS;
      if (leadIn[p] && p === "raw") rawRate = leadIn[p].groupsPerS;
      got[p] = await trial(p, level, js, jsm, pool, n, SECONDS, p === "service" ? serviceRate : rawRate, tag(p));
    }
    const { service: s, raw } = got as Record<Path, Trial>;
    serviceRate = s.groupsPerS;
    rawRate = raw.groupsPerS;
    runs.push({ service: s, raw, ratio: s.groupsPerS / raw.groupsPerS, ...(LEAD_IN ? { leadIn: { service: leadIn.service!, raw: leadIn.raw! } } : {}) });
    console.log(
      `W=${W} run ${r + 1}/${RUNS}: service ${s.groupsPerS.toFixed(1)} groups/s (${s.done} groups, ${s.seconds.toFixed(1)} s${s.bounded ? ", time-bounded" : ""}), ` +
        `raw ${raw.groupsPerS.toFixed(0)} groups/s (${raw.done}), ratio ${(s.groupsPerS / raw.groupsPerS).toFixed(4)}; ` +
        `publishers' thread busy ${s.publisherThreadBusy.toFixed(2)} / ${raw.publisherThreadBusy.toFixed(2)}; ` +
        `state ${(stateBytes(s.written!) / s.done / 1e3).toFixed(2)} kB/group in ${(s.written!.snapshotWrites / s.done).toFixed(4)} snapshots/group`,
    );
  }

  await service.stop();
  await learner.close();
  await raw.close();
  metaSub.unsubscribe();
  eventsSub.unsubscribe();
  batchesSub.unsubscribe();
  const atEnd = await snapshotAtEnd(store, snapshotName);
  // Free the disk before the next window: the snapshot and its segments, the consumers, what the run left on the streams.
  for (const o of await store.list()) if (!o.deleted && o.name.startsWith(snapshotName)) await deleteObject(nc, store, o.name);
  await jsm.consumers.delete(RAW_STREAM, `bench-raw-${run}`);
  await jsm.consumers.delete(STREAMS.verified.name, `sampler-${run}`);
  await jsm.consumers.delete(STREAMS.batches.name, `bench-learner-${run}`);
  for (const stream of [STREAMS.verified.name, RAW_STREAM, STREAMS.batches.name, STREAMS.events.name]) await jsm.streams.purge(stream);

  const svc = runs.map((x) => x.service);
  const perGroup = (f: (t: Trial) => number) => summarize(svc.map((t) => f(t) / t.done));
  const w = (t: Trial) => t.written!;
  const totalGroups = svc.reduce((a, t) => a + t.done, 0);
  // The window's base in the long run: trials at large W are shorter than the interval between bases.
  const basesSeen = svc.reduce((a, t) => a + w(t).windowBaseWrites, 0);
  const slotsPerGroup = svc.reduce((a, t) => a + w(t).windowSegmentBytes / 8, 0) / totalGroups;
  const groupsPerSnapshot = totalGroups / svc.reduce((a, t) => a + w(t).snapshotWrites, 0);
  const windowBase = { bytes: seed.windowBaseBytes, everyGroups: Math.min(MAX_WINDOW_SEGMENTS * groupsPerSnapshot, W / slotsPerGroup), seenInTrials: basesSeen };
  return {
    window: W,
    seed: { groups: seed.groups, seconds: seed.seconds, stateBytes: seed.bytes, windowBaseBytes: seed.windowBaseBytes },
    serviceStartSeconds,
    warmUp: { service: warmService, raw: warmRaw },
    runs,
    serviceGroupsPerS: summarize(svc.map((t) => t.groupsPerS)),
    rawGroupsPerS: summarize(runs.map((x) => x.raw.groupsPerS)),
    ratio: summarize(runs.map((x) => x.ratio)),
    ...(LEAD_IN ? {
      leadIn: {
        serviceGroupsPerS: summarize(runs.map((x) => x.leadIn!.service.groupsPerS)),
        rawGroupsPerS: summarize(runs.map((x) => x.leadIn!.raw.groupsPerS)),
        ratio: summarize(runs.map((x) => x.leadIn!.service.groupsPerS / x.leadIn!.raw.groupsPerS)),
      },
    } : {}),
    boundedServiceRuns: svc.filter((t) => t.bounded).length,
    durable: {
      snapshotWritesPerGroup: perGroup((t) => w(t).snapshotWrites),
      snapshotBytesPerGroup: perGroup((t) => w(t).snapshotBytes),
      uidSegmentBytesPerGroup: perGroup((t) => w(t).uidSegmentBytes),
      windowSegmentBytesPerGroup: perGroup((t) => w(t).windowSegmentBytes),
      stateBytesPerGroup: perGroup((t) => stateBytes(w(t))),
      windowBase,
      stateBytesPerGroupSteady: perGroup((t) => stateBytes(w(t)) + (basesSeen ? 0 : (t.done * windowBase.bytes) / windowBase.everyGroups)),
      outputBytesPerGroup: { events: perGroup((t) => w(t).eventsBytes), batches: perGroup((t) => w(t).batchesBytes), objectsByReference: perGroup((t) => w(t).otherObjectBytes) },
      totalBytesPerGroup: perGroup((t) => stateBytes(w(t)) + w(t).eventsBytes + w(t).batchesBytes + w(t).otherObjectBytes),
      natsServerWcharBytesPerGroup: perGroup((t) => t.natsWcharBytes),
    },
    keptFraction: svc.reduce((a, t) => a + t.groupsInBatches!, 0) / totalGroups,
    cpuMicrosPerGroup: {
      serviceSampler: summarize(svc.map((t) => t.cpuMicrosPerGroup.sampler)),
      serviceNatsServer: summarize(svc.map((t) => t.cpuMicrosPerGroup.natsServer)),
      serviceBench: summarize(svc.map((t) => t.cpuMicrosPerGroup.bench)),
      rawNatsServer: summarize(runs.map((x) => x.raw.cpuMicrosPerGroup.natsServer)),
      rawBench: summarize(runs.map((x) => x.raw.cpuMicrosPerGroup.bench)),
    },
    natsReadBytesPerGroup: { service: summarize(svc.map((t) => t.natsReadBytes / t.done)), raw: summarize(runs.map((x) => x.raw.natsReadBytes / x.raw.done)) },
    publisherThreadBusy: { service: summarize(svc.map((t) => t.publisherThreadBusy)), raw: summarize(runs.map((x) => x.raw.publisherThreadBusy)) },
    snapshotAtEnd: atEnd,
  };
}

const rows: Row[] = [];
for (const W of WINDOWS) {
  const row = await measureWindow(W);
  rows.push(row);
  const d = row.durable;
  console.log(
    `W=${W}: service ${fmt(row.serviceGroupsPerS, 1)} groups/s, raw ${fmt(row.rawGroupsPerS, 0)}, service/raw ${fmt(row.ratio, 4)}` +
      `${row.boundedServiceRuns ? ` (${row.boundedServiceRuns} of ${RUNS} service runs time-bounded)` : ""}; durable bytes per group: ` +
      `state ${fmt(d.stateBytesPerGroup, 0)}, ${fmt(d.stateBytesPerGroupSteady, 0)} with the window's base every ${d.windowBase.everyGroups.toFixed(0)} groups (snapshots ${fmt(d.snapshotBytesPerGroup, 0)} in ${fmt(d.snapshotWritesPerGroup, 4)} writes, uids ${fmt(d.uidSegmentBytesPerGroup, 0)}, window ${fmt(d.windowSegmentBytesPerGroup, 0)}), ` +
      `events ${fmt(d.outputBytesPerGroup.events, 0)}, batches ${fmt(d.outputBytesPerGroup.batches, 0)}, total ${fmt(d.totalBytesPerGroup, 0)}; snapshot at end ${row.snapshotAtEnd.objectBytes} bytes ` +
      `(${Object.entries(row.snapshotAtEnd.encodedBytesOfParts).map(([k, v]) => `${k} ${v}`).join(", ")})`,
  );
}
const totalSeconds = secondsSince(started);
await nc.close();
await server.stop();
rmSync(dir, { recursive: true, force: true });

const goalRow = rows.find((r) => r.window === GOAL_WINDOW);
const result = {
  provenance: provenance.finish(),
  command: ["npm run bench -- sampler-service", ...process.argv.slice(2)].join(" "),
  date: new Date().toISOString(),
  machine: machine(),
  goal: `service groups/s >= ${GOAL} x raw groups/s at W = ${GOAL_WINDOW}`,
  goalVerdict: goalRow ? judgeGoal(goalRow.ratio, GOAL) : `not measured (W = ${GOAL_WINDOW} not in --windows)`,
  setup: {
    windows: WINDOWS,
    groupsPerTrialAtMost: GROUPS,
    publishSecondsPerTrialAtMost: SECONDS,
    runs: RUNS,
    groupSize: G,
    batchSize: B,
    groups: `${POOL} bodies shared by all messages, each with a fresh uid; responses of 64..${MAX_LEN - 1} tokens (uniform), 10% truncated at ${MAX_LEN}; int32 token ids, float32 log-probs, ~3.5 characters of text per token; 15% all correct, 15% all wrong, 70% mixed`,
    envelopeBytes,
    sampler: "`lspo serve sampler`: stream mode, B = 16, window W, accuracy and length filters on (0.30 / 0.65 / 0.95), maxOffPolicySteps 1e6, ackWait 10 min, a snapshot every 1,024 groups or 2 s (the defaults)",
    windowFill: "before the service starts: its own SamplerCore, offered fresh-uid groups until W survivor lengths are held, saved by its own DurableState into the object store; the service restores it",
    nats: "one nats-server on loopback (file storage, 8 MB max payload), streams R1; this process: a connection for the publishers and the event subscriptions (its main thread), and two reader threads, each with its own connection: the raw path's consumer and the learner's side",
    pacing: `up to ${IN_FLIGHT} publishes in flight (pub-acked), at most max(${MIN_CAP}, min(${MAX_CAP}, rate x ${CAP_SECONDS} s)) groups published and not yet done, the same rule on both paths`,
    rawPath: `a stream of its own (${RAW_STREAM}) with LSPO_VERIFIED's spec (so that every purge is unfiltered: nats-server 2.9.10 leaves a filtered purge on the account's storage usage), a raw pull consumer (${PULL_BATCH} per pull, the sampler's) on a thread of its own, pulling during raw trials only, ack only`,
    leadIn: LEAD_IN
      ? "each timed trial follows an untimed trial of the same path and size (its rates are in runs[].leadIn and leadIn): the first trial of a path after the other path's ran at up to half speed (nats-server 2.9.10's file-store writes; see the bench's header)"
      : "DIAGNOSTIC (--lead-in off): timed trials alternate paths with nothing between them",
    learnerSide:
      FETCH === "groups"
        ? "a thread of its own: a durable consumer of the run's batches (4 per pull); each batch's groups fetched from LSPO_VERIFIED by sequence (direct gets, a batch's in parallel) and checked by their summary headers, not decoded (as the raw path's consumer decodes nothing)"
        : "DIAGNOSTIC (--fetch none): a durable consumer of the run's batches (4 per pull); their groups are not fetched",
    streamSize: "after each trial its messages are purged but for the kept groups still waiting for a batch, so every trial starts on a stream of the same size; `sync` before each trial (the last trial's writes reach the disk untimed)",
    metric:
      "groups/s = groups done / (last done - first publish); service: done = its `judged` event arrived, and the trial ends at the last judgement or the last batch consumed; raw: done = acked; " +
      "ratio = service/raw of the same run. Durable bytes per group over the service trials: state = object-store puts of sampler-<run>.snapshot, its uid segments and its window log (sizes from the store's metadata messages); stateBytesPerGroupSteady adds the window's base amortized over the groups between bases when no trial wrote one, " +
      "output: events/batches = bytes the service published to LSPO_EVENTS / LSPO_BATCHES, objectsByReference = batches put in the object store; natsServerWcharBytesPerGroup = nats-server's write-syscall bytes (all streams) over the service trials",
  },
  totalSeconds,
  // The machine is shared: its load average (1, 5, 15 min) before and after says how noisy the run was.
  loadAverage: { before: loadBefore, after: loadavg() },
  ioPressure: { before: ioPressureBefore, after: ioPressure() },
  rows,
};
writeFileSync(join(import.meta.dirname, "results", OUT), `${JSON.stringify(result, null, 2)}\n`);
console.log(`goal (${result.goal}): ${result.goalVerdict}`);
console.log(`total ${totalSeconds.toFixed(0)} s, load average ${loadBefore.map((x) => x.toFixed(1)).join(" ")} -> ${result.loadAverage.after.map((x) => x.toFixed(1)).join(" ")}`);
process.exit(0);
