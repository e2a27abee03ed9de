// The sampler's durable state in the object store: a snapshot of the core every sampler.snapshotEveryGroups
// groups (or snapshotEveryMs), with its two large parts beside it as append logs: the uid set and the
// stream window's slots.
//
// The journal between two snapshots is the verified stream itself: a judged group is acked only once a
// snapshot covers it, so after a crash every group judged since the last snapshot is still unacked on the
// stream, and replaying them in stream order (main.ts) rebuilds exactly the state that was lost.
//
// The uid set is the one part that grows with the run (every uid ever received, for dedupe); rewriting it
// whole in every snapshot made a snapshot's cost grow with the run. Each snapshot writes the uids added since
// the one before as a new segment object, merged with the newest segments while each is no larger than what
// it would join (a binary counter), and lists the segments it needs: a uid is rewritten about log2(saves)
// times over a run, and a snapshot names about log2(saves) segments. (Writing the whole set once the list
// reached 32 segments, as before, cost a copy of the set every 32 saves: O(run) bytes per group, 1.8 kB at
// W = 1M in the bench's 20,000-group trials.)
//
// The window (stream mode) is W slots, 8 bytes each: rewritten whole it was nearly all of a snapshot's bytes
// (0.8 MB per snapshot at W = 100k, 8 MB at 1M). It is the last W slots ever pushed, so it is logged the
// same way: a base segment (the whole window when written), then one segment per snapshot with the slots
// pushed since the one before; the window is the last W slots of their concatenation. A new base is written
// when the log since the base reaches W slots (the base is then wholly pushed out), when it has
// MAX_WINDOW_SEGMENTS segments, or when the library sampler was replaced (UpdateConfig, the run's close).
//
// A segment is written before the snapshot that names it and deleted only after a snapshot that no longer
// names it, so the last snapshot written is always complete.
import { decodeEnvelope, deleteObject, encodeEnvelope, getBlob, putBlob, type NatsConnection, type openObjectStore } from "@lspo/bus";
import type { CoreSnapshot, SamplerCore } from "./core.js";
import { windowSlots, windowSlotsBytes, windowSlotsFromBytes } from "./window-log.js";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

const FORMAT = "lspo.sampler-service";
// 3: the core holds the kept groups' summaries and LSPO_VERIFIED sequences, not their payloads.
// 4: stream mode's window is persisted apart (windowSegments). A version-3 snapshot is still read.
const VERSION = 4;
const READABLE = [3, VERSION];
/** Window log segments at most (a load reads each one): then the next save writes a new base. */
export const MAX_WINDOW_SEGMENTS = 64;

export interface UidSegment {
  name: string;
  /** Uids it holds: the set's [from, from + count). */
  from: number;
  count: number;
}

/** Part of the window log: `slots` slots (8 bytes each, little-endian float64; NaN = no length). */
export interface WindowSegment {
  name: string;
  slots: number;
}

/** The snapshot object. Version 1 (a bare CoreSnapshot with its uids inline, and an outbox) is still read. */
export interface PersistedSampler {
  format: typeof FORMAT;
  version: number;
  core: CoreSnapshot;
  uidSegments: UidSegment[];
  /**
   * Stream mode (version 4): the window's log, base first; `core.sampler.window` is then empty. Absent in
   * batch mode and in version 3, whose window is inline.
   */
  windowSegments?: WindowSegment[];
  /** The next window segment's number (segments are `<name>.window.<n>`, never reused within a run). */
  windowNext?: number;
  /** LSPO_BATCHES' sequence of the last batch published before this snapshot (0: none): a restart reads
   *  the batches after it, which the replay will emit again (batches.ts). */
  batchesSeq: number;
  /**
   * Every object this snapshot is made of (its uid and window segments), by name: what a copy of the state
   * takes along (the learner's checkpoint) without knowing what each is. Listed, not found by their names'
   * prefix among the snapshot's strings: a uid is a string too, and may begin with anything. Absent in
   * snapshots written before it was added (their copies find the parts by prefix).
   */
  parts?: string[];
}

/** Bytes written by the last save, by part (the benchmark's durable bytes per group). */
export interface SaveReport {
  snapshotBytes: number;
  uidBytes: number;
  windowBytes: number;
  /** The window was written whole (a new base). */
  windowBase: boolean;
}

/** What the window log on the store holds, against the live core it was written from. */
interface WindowMark {
  core: SamplerCore;
  epoch: number;
  /** The core's window pushes when the log was last written. */
  pushes: number;
}

export class DurableState {
  private segments: UidSegment[] = [];
  private windowSegments: WindowSegment[] = [];
  private windowNext = 0;
  private windowMark: WindowMark | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly store: Store,
    /**
     * `sampler-<run>.snapshot`; uid segments are `<name>.uids.<from>-<to>` (older ones `<name>.uids.<from>`,
     * `<name>.uids.all-<count>`), window segments `<name>.window.<n>`. Every object a snapshot is made of is
     * named `<name>.<part>` and listed in its `parts`: a copy of the state takes those along without knowing
     * what each is (the learner's checkpoint, services/learner/src/sampler-state.ts).
     */
    readonly name: string,
    /** Called for each dropped segment that could not be deleted (left behind, never read again). */
    private readonly onDeleteFailed?: (objectName: string, err: Error) => void,
  ) {}

  /** The core as last saved, or null before the first save. Fails naming the object that is unreadable. */
  async load(build: (snapshot: CoreSnapshot, uids: string[]) => SamplerCore): Promise<{ core: SamplerCore; batchesSeq: number } | null> {
    this.windowMark = null;
    const info = await this.store.info(this.name).catch(() => null);
    if (!info || info.deleted) return null;
    const body = decodeEnvelope(await getBlob(this.store, this.name), "SamplerSnapshot").body as PersistedSampler | (CoreSnapshot & { format?: undefined });
    if (body.format !== FORMAT) {
      this.segments = [];
      this.windowSegments = [];
      return { core: build(body as CoreSnapshot, (body as CoreSnapshot).seen ?? []), batchesSeq: 0 };
    }
    if (!READABLE.includes(body.version)) throw new Error(`sampler snapshot ${this.name}: version ${String(body.version)} is not readable by this build (reads ${READABLE.join(", ")})`);
    const uids: string[] = [];
    for (const seg of body.uidSegments) {
      if (seg.from !== uids.length) throw new Error(`sampler snapshot ${this.name}: uid segment ${seg.name} starts at ${seg.from}, expected ${uids.length}`);
      const part = decodeEnvelope(await getBlob(this.store, seg.name), "SamplerUids").body as string[];
      if (!Array.isArray(part) || part.length !== seg.count) throw new Error(`sampler snapshot ${this.name}: uid segment ${seg.name} holds ${Array.isArray(part) ? part.length : "no list of"} uids, expected ${seg.count}`);
      for (const u of part) uids.push(u);
    }
    const windowSegments = body.windowSegments ?? [];
    let coreSnapshot = body.core;
    if (body.windowSegments) {
      const library = body.core.sampler as { config?: { window?: unknown } };
      const capacity = library.config?.window;
      if (typeof capacity !== "number" || !Number.isInteger(capacity) || capacity < 1) throw new Error(`sampler snapshot ${this.name}: has a window log but its sampler config names no window size`);
      const parts: Float64Array[] = [];
      for (const seg of windowSegments) parts.push(await this.readWindowSegment(seg));
      coreSnapshot = { ...body.core, sampler: { ...(body.core.sampler as Record<string, unknown>), window: windowSlots(parts, capacity) } };
    }
    const core = build(coreSnapshot, uids);
    this.segments = body.uidSegments;
    this.windowSegments = windowSegments;
    this.windowNext = body.windowNext ?? 0;
    const log = core.windowLog();
    if (log && body.windowSegments) {
      this.windowMark = { core, epoch: log.epoch, pushes: log.pushes };
    }
    return { core, batchesSeq: body.batchesSeq };
  }

  /** Saves `core`: its new uids and window slots as segments (or whole), then the snapshot naming them. */
  async save(core: SamplerCore, batchesSeq: number): Promise<SaveReport> {
    const held = this.segments.reduce((n, s) => n + s.count, 0);
    const total = core.uidCount;
    let uidBytes = 0;
    let segments = this.segments;
    if (total > held) {
      // The new uids [held, total), joined by the newest segments while each is no larger than the run it
      // would join. The name holds both ends: a segment the last snapshot names is never overwritten.
      let keep = segments.length;
      let from = held;
      while (keep > 0 && segments[keep - 1].count <= total - from) from = segments[--keep].from;
      segments = [...segments.slice(0, keep), await this.writeSegment(`${this.name}.uids.${from}-${total}`, from, core.uidsFrom(from), (b) => (uidBytes += b))];
    }
    const window = await this.logWindow(core);
    const snap: PersistedSampler = {
      format: FORMAT, version: VERSION, core: core.snapshot(window.segments !== undefined), uidSegments: segments, batchesSeq,
      ...(window.segments ? { windowSegments: window.segments, windowNext: this.windowNext } : {}),
      parts: [...segments, ...(window.segments ?? [])].map((seg) => seg.name),
    };
    const bytes = encodeEnvelope("SamplerSnapshot", snap);
    await putBlob(this.store, this.name, bytes);
    const dropped = [
      ...this.segments.filter((s) => !segments.some((k) => k.name === s.name)),
      ...this.windowSegments.filter((s) => !(window.segments ?? []).some((k) => k.name === s.name)),
    ];
    this.segments = segments;
    this.windowSegments = window.segments ?? [];
    this.windowMark = window.mark;
    // Best effort: a segment left behind by a crash or a failed delete here is overwritten or ignored, never read.
    for (const s of dropped) await deleteObject(this.nc, this.store, s.name).catch((err: Error) => this.onDeleteFailed?.(s.name, err));
    return { snapshotBytes: bytes.byteLength, uidBytes, windowBytes: window.bytes, windowBase: window.base };
  }

  /**
   * Writes the window slots the store lacks: those pushed since the last save, or the whole window as a new
   * base. Returns the log the next snapshot names (undefined in batch mode: no window) and the mark to keep
   * once that snapshot is written.
   */
  private async logWindow(core: SamplerCore): Promise<{ segments?: WindowSegment[]; mark: WindowMark | null; bytes: number; base: boolean }> {
    const log = core.windowLog();
    if (!log) return { mark: null, bytes: 0, base: false };
    const m = this.windowMark;
    const same = m !== null && m.core === core && m.epoch === log.epoch;
    const tail = same ? log.pushes - m.pushes : 0;
    // Slots logged after the base (the base is the log's first segment).
    const sinceBase = this.windowSegments.slice(1).reduce((n, g) => n + g.slots, 0);
    if (same && sinceBase + tail < log.capacity && this.windowSegments.length < MAX_WINDOW_SEGMENTS) {
      if (tail === 0) return { segments: this.windowSegments, mark: m, bytes: 0, base: false };
      const seg = await this.writeWindowSegment(log.newest(tail));
      return { segments: [...this.windowSegments, seg.segment], mark: { ...m, pushes: log.pushes }, bytes: seg.bytes, base: false };
    }
    const seg = await this.writeWindowSegment(log.newest(log.slots));
    return { segments: [seg.segment], mark: { core, epoch: log.epoch, pushes: log.pushes }, bytes: seg.bytes, base: true };
  }

  private async writeWindowSegment(slots: Float64Array): Promise<{ segment: WindowSegment; bytes: number }> {
    const name = `${this.name}.window.${this.windowNext++}`;
    const bytes = encodeEnvelope("SamplerWindow", windowSlotsBytes(slots));
    await putBlob(this.store, name, bytes);
    return { segment: { name, slots: slots.length }, bytes: bytes.byteLength };
  }

  private async readWindowSegment(seg: WindowSegment): Promise<Float64Array> {
    const body = decodeEnvelope(await getBlob(this.store, seg.name), "SamplerWindow").body;
    if (!(body instanceof Uint8Array) || body.byteLength !== seg.slots * 8) {
      const got = body instanceof Uint8Array ? `${body.byteLength} bytes` : "no byte string";
      throw new Error(`sampler snapshot ${this.name}: window segment ${seg.name} holds ${got}, expected ${seg.slots} slots (${seg.slots * 8} bytes)`);
    }
    return windowSlotsFromBytes(body);
  }

  private async writeSegment(name: string, from: number, uids: string[], count: (bytes: number) => void): Promise<UidSegment> {
    const bytes = encodeEnvelope("SamplerUids", uids);
    await putBlob(this.store, name, bytes);
    count(bytes.byteLength);
    return { name, from, count: uids.length };
  }
}
