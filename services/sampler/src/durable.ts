// The sampler's durable state in the object store: a snapshot of the core every sampler.snapshotEveryGroups
// groups (or snapshotEveryMs), and the uid set beside it in append-only segments.
//
// The journal between two snapshots is the verified stream itself: a judged group is acked only once a
// snapshot covers it, so after a crash every group judged since the last snapshot is still unacked on the
// stream, and replaying them in stream order (main.ts) rebuilds exactly the state that was lost.
//
// The uid set is the one part that grows with the run (every uid ever received, for dedupe); rewriting it
// whole in every snapshot made a snapshot's cost grow with the run. Each snapshot writes only the uids
// added since the one before, as a new segment object, and lists the segments it needs. When the list
// grows past MAX_SEGMENTS the whole set is written as one segment (amortised: at most one full copy per
// MAX_SEGMENTS snapshots). A segment is written before the snapshot that names it and deleted only after a
// snapshot that no longer names it, so the last snapshot written is always complete.
import { decodeEnvelope, encodeEnvelope, getBlob, putBlob, type openObjectStore } from "@lspo/bus";
import type { CoreSnapshot, SamplerCore } from "./core.js";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

const FORMAT = "lspo.sampler-service";
// 3: the core holds the kept groups' summaries and LSPO_VERIFIED sequences, not their payloads.
const VERSION = 3;
const MAX_SEGMENTS = 32;

export interface UidSegment {
  name: string;
  /** Uids it holds: the set's [from, from + count). */
  from: number;
  count: number;
}

/** The snapshot object. Version 1 (a bare CoreSnapshot with its uids inline, and an outbox) is still read. */
export interface PersistedSampler {
  format: typeof FORMAT;
  version: typeof VERSION;
  core: CoreSnapshot;
  uidSegments: UidSegment[];
  /** LSPO_BATCHES' sequence of the last batch published before this snapshot (0: none): a restart reads
   *  the batches after it, which the replay will emit again (batches.ts). */
  batchesSeq: number;
}

/** Bytes written by the last save, by part (the benchmark's durable bytes per group). */
export interface SaveReport {
  snapshotBytes: number;
  uidBytes: number;
  compacted: boolean;
}

export class DurableState {
  private segments: UidSegment[] = [];

  constructor(
    private readonly store: Store,
    /** `sampler-<run>.snapshot`; segments are `<name>.uids.<from>` (a compacted set: `<name>.uids.all-<count>`). */
    readonly name: string,
  ) {}

  /** The core as last saved, or null before the first save. Fails naming the object that is unreadable. */
  async load(build: (snapshot: CoreSnapshot, uids: string[]) => SamplerCore): Promise<{ core: SamplerCore; batchesSeq: number } | null> {
    const info = await this.store.info(this.name).catch(() => null);
    if (!info || info.deleted) return null;
    const body = decodeEnvelope(await getBlob(this.store, this.name), "SamplerSnapshot").body as PersistedSampler | (CoreSnapshot & { format?: undefined });
    if (body.format !== FORMAT) {
      this.segments = [];
      return { core: build(body as CoreSnapshot, (body as CoreSnapshot).seen ?? []), batchesSeq: 0 };
    }
    if (body.version !== VERSION) throw new Error(`sampler snapshot ${this.name}: version ${String(body.version)} is not readable by this build (reads ${VERSION})`);
    const uids: string[] = [];
    for (const seg of body.uidSegments) {
      if (seg.from !== uids.length) throw new Error(`sampler snapshot ${this.name}: uid segment ${seg.name} starts at ${seg.from}, expected ${uids.length}`);
      const part = decodeEnvelope(await getBlob(this.store, seg.name), "SamplerUids").body as string[];
      if (!Array.isArray(part) || part.length !== seg.count) throw new Error(`sampler snapshot ${this.name}: uid segment ${seg.name} holds ${Array.isArray(part) ? part.length : "no list of"} uids, expected ${seg.count}`);
      for (const u of part) uids.push(u);
    }
    this.segments = body.uidSegments;
    return { core: build(body.core, uids), batchesSeq: body.batchesSeq };
  }

  /** Saves `core`: its new uids as a segment (or the whole set, compacted), then the snapshot naming them. */
  async save(core: SamplerCore, batchesSeq: number): Promise<SaveReport> {
    const held = this.segments.reduce((n, s) => n + s.count, 0);
    const total = core.uidCount;
    let uidBytes = 0;
    let segments = this.segments;
    const compact = segments.length >= MAX_SEGMENTS;
    if (compact) {
      segments = [await this.writeSegment(`${this.name}.uids.all-${total}`, 0, core.uidsFrom(0), (b) => (uidBytes += b))];
    } else if (total > held) {
      segments = [...segments, await this.writeSegment(`${this.name}.uids.${held}`, held, core.uidsFrom(held), (b) => (uidBytes += b))];
    }
    const snap: PersistedSampler = { format: FORMAT, version: VERSION, core: core.snapshot(), uidSegments: segments, batchesSeq };
    const bytes = encodeEnvelope("SamplerSnapshot", snap);
    await putBlob(this.store, this.name, bytes);
    const dropped = this.segments.filter((s) => !segments.some((k) => k.name === s.name));
    this.segments = segments;
    // Best effort: a segment left behind by a crash here is overwritten or ignored, never read.
    for (const s of dropped) await this.store.delete(s.name).catch(() => undefined);
    return { snapshotBytes: bytes.byteLength, uidBytes, compacted: compact };
  }

  private async writeSegment(name: string, from: number, uids: string[], count: (bytes: number) => void): Promise<UidSegment> {
    const bytes = encodeEnvelope("SamplerUids", uids);
    await putBlob(this.store, name, bytes);
    count(bytes.byteLength);
    return { name, from, count: uids.length };
  }
}
