// The sampler's durable state as a checkpoint keeps it. The sampler saves a snapshot object that names other
// objects of the same store (its uid segments and window log, services/sampler/src/durable.ts), each called
// `<snapshot>.<part>`. The snapshot alone is of no use where those objects are gone (a resume on a fresh NATS),
// so a checkpoint keeps the snapshot and its parts, read as one consistent set: the sampler may save (and
// delete the segments it dropped) while they are read, so the set counts only if the snapshot is still the
// same object after its parts were read. Its parts are the names the snapshot lists in `parts`; what each
// one is stays the sampler's business.
//
// A checkpoint keeps the set as one file (SAMPLER_STATE_FILE, hashed with the checkpoint's other files) and
// puts the same bytes in NATS as one object (the learner's own store, OBJECT_STORES.checkpoints: only the
// learner writes there) that the checkpoint manifest names with its size and SHA-256. The
// controller copies that object into its own run directory as the manifest arrives (controller:
// sampler-copies.ts): after the NATS store is lost, the copy is what puts the sampler back, whatever its size.
import { createHash } from "node:crypto";
import { decodeEnvelope, deleteObject, encodeEnvelope, getBlob, ObjectChangedError, putBlob, type NatsConnection, type openObjectStore } from "@lspo/bus";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

export interface SamplerState {
  snapshot: Uint8Array;
  /** The objects the snapshot names (`<snapshot>.<part>`), by name. */
  parts: Map<string, Uint8Array>;
}

/** The file in a checkpoint's directory that holds the sampler's state (encodeSamplerState's bytes). */
export const SAMPLER_STATE_FILE = "sampler-state.msgpack";
const KIND = "SamplerCheckpoint";

/** What a checkpoint manifest says of the sampler state it was written with: the object holding it in NATS. */
export interface SamplerStateRef {
  /** Its object in the checkpoints store (OBJECT_STORES.checkpoints), `<runId>.sampler.step-<n>`. */
  object: string;
  bytes: number;
  sha256: string;
}

/** The snapshot and its parts as one blob (an lspo envelope), for a checkpoint's file and object. */
export function encodeSamplerState(state: SamplerState): Uint8Array {
  return encodeEnvelope(KIND, { snapshot: state.snapshot, parts: [...state.parts] });
}

/**
 * Decodes encodeSamplerState's bytes for the sampler snapshot `name`, refusing (with what is wrong) a body that
 * is not one: a part whose name is not `<name>.<part>` would overwrite another object when restored.
 */
export function decodeSamplerState(bytes: Uint8Array, name: string): SamplerState {
  const body = decodeEnvelope(bytes, KIND).body as { snapshot?: unknown; parts?: unknown };
  if (!(body?.snapshot instanceof Uint8Array)) throw new Error(`sampler state: snapshot is ${typeof body?.snapshot}, not bytes`);
  if (!Array.isArray(body.parts)) throw new Error(`sampler state: parts is ${typeof body.parts}, not a list of [name, bytes]`);
  const parts = new Map<string, Uint8Array>();
  for (const entry of body.parts as unknown[]) {
    const [part, data] = Array.isArray(entry) ? entry : [];
    if (typeof part !== "string" || !part.startsWith(`${name}.`)) throw new Error(`sampler state: part ${JSON.stringify(part)} is not a part of ${name}`);
    if (!(data instanceof Uint8Array)) throw new Error(`sampler state: part '${part}' is ${typeof data}, not bytes`);
    parts.set(part, data);
  }
  return { snapshot: body.snapshot, parts };
}

export const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** The object name of step `step`'s checkpointed sampler state, in the checkpoints store. */
export function samplerStateObject(runId: string, step: number): string {
  return `${runId}.sampler.step-${String(step).padStart(6, "0")}`;
}

/**
 * Puts a checkpoint's sampler state (encodeSamplerState's bytes) in NATS for the controller to copy, then
 * deletes the objects of this run's checkpoints that are no longer kept (`keptSteps`: those still on disk).
 * Returns the reference for the manifest; a failed delete is reported through onDeleteFailed, not thrown.
 */
export async function publishSamplerState(
  nc: NatsConnection, store: Store, runId: string, step: number, bytes: Uint8Array, keptSteps: readonly number[],
  onDeleteFailed?: (object: string, err: Error) => void,
): Promise<SamplerStateRef> {
  const object = samplerStateObject(runId, step);
  await putBlob(store, object, bytes);
  const kept = new Set([object, ...keptSteps.map((s) => samplerStateObject(runId, s))]);
  const prefix = `${runId}.sampler.step-`;
  for (const info of await store.list()) {
    if (info.deleted || !info.name.startsWith(prefix) || kept.has(info.name)) continue;
    await deleteObject(nc, store, info.name).catch((err: Error) => onDeleteFailed?.(info.name, err));
  }
  return { object, bytes: bytes.byteLength, sha256: sha256Hex(bytes) };
}

export interface ReadSamplerStateOptions {
  /** Reads of the whole set before giving up (each one after a save got in the way, a read stalled, or NATS did not answer). */
  tries?: number;
  /** One try gives up after this long (a read racing a rewrite can stall on chunks being replaced). */
  tryTimeoutMs?: number;
}

/** No consistent set was read in the tries given; the message says why the last try failed. */
export class SamplerStateUnread extends Error {
  override name = "SamplerStateUnread";
}

/**
 * The sampler's snapshot `name` and its parts, consistent; null when there is no snapshot.
 * Throws SamplerStateUnread when no try read a consistent set (the sampler kept saving meanwhile, or NATS did
 * not answer: a try after a NATS error waits first, so a server restart does not use every try up at once),
 * and an Error naming what is wrong for a snapshot that is not one (not an envelope, a part listed outside its name).
 */
export async function readSamplerState(store: Store, name: string, opts: ReadSamplerStateOptions = {}): Promise<SamplerState | null> {
  const tries = opts.tries ?? 5;
  const tryTimeoutMs = opts.tryTimeoutMs ?? 3000;
  let why = "";
  let pauseMs = 0; // before the next try: after NATS trouble 250 ms, doubling to 2 s; none after a save got in the way
  for (let attempt = 0; attempt < tries; attempt++) {
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), tryTimeoutMs)));
    const got = await Promise.race([readOnce(store, name), timeout]).finally(() => clearTimeout(timer));
    if (got === "absent") return null;
    if (got === "changed") {
      why = "the snapshot or a part it names was replaced while read";
      pauseMs = 0;
      continue;
    }
    if (got !== "timeout" && !("unanswered" in got)) return got;
    why = got === "timeout" ? `a read took over ${tryTimeoutMs} ms` : `NATS: ${got.unanswered}`;
    pauseMs = pauseMs ? Math.min(2000, pauseMs * 2) : 250;
  }
  throw new SamplerStateUnread(`sampler snapshot ${name}: no consistent read in ${tries} tries (the last: ${why})`);
}

/**
 * The objects a snapshot is made of: the names its `parts` lists, each `<name>.<part>` (a name outside that
 * would be restored over another object). A snapshot from before the list finds them as the strings in its
 * body that begin `<name>.`, which a uid of that form would join (read as a missing part: no checkpoint copy).
 */
function partsOf(snapshot: Uint8Array, name: string): string[] {
  const body = decodeEnvelope(snapshot, "SamplerSnapshot").body as { parts?: unknown } | null;
  if (body && Array.isArray(body.parts)) {
    for (const p of body.parts) {
      if (typeof p !== "string" || !p.startsWith(`${name}.`)) throw new Error(`sampler snapshot ${name}: lists a part ${JSON.stringify(p)} that is not '${name}.<part>'`);
    }
    return [...new Set(body.parts as string[])];
  }
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === "string") {
      if (v.startsWith(`${name}.`)) found.add(v);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v)) {
      for (const x of Object.values(v)) walk(x);
    }
  };
  walk(body);
  return [...found];
}

async function readOnce(store: Store, name: string): Promise<SamplerState | "absent" | "changed" | { unanswered: string }> {
  const info = async (): Promise<{ info: Awaited<ReturnType<Store["info"]>> } | { unanswered: string }> => {
    try {
      return { info: await store.info(name) };
    } catch (err) {
      return { unanswered: (err as Error).message }; // NATS away or timing out: not "absent", which is an answer
    }
  };
  const before = await info();
  if ("unanswered" in before) return before;
  if (!before.info || before.info.deleted) return "absent";
  const parts = new Map<string, Uint8Array>();
  const blob = async (n: string): Promise<Uint8Array | "changed" | { unanswered: string }> => {
    try {
      return await getBlob(store, n);
    } catch (err) {
      // Gone (a newer save deleted it) or cut short by a rewrite: read again. Anything else is NATS's trouble.
      return err instanceof ObjectChangedError ? "changed" : { unanswered: (err as Error).message };
    }
  };
  const snapshot = await blob(name);
  if (!(snapshot instanceof Uint8Array)) return snapshot;
  const names = partsOf(snapshot, name); // throws for a snapshot that is not one: reading again cannot mend it
  for (const part of names) {
    const p = await blob(part);
    if (!(p instanceof Uint8Array)) return p;
    parts.set(part, p);
  }
  // Every part the snapshot names was read. A name the sampler dropped may be written again later (a restart
  // replays into the same uid range), so the set is certain only if the snapshot is the same object as before.
  const after = await info();
  if ("unanswered" in after) return after;
  return after.info && !after.info.deleted && after.info.nuid === before.info.nuid && after.info.digest === before.info.digest ? { snapshot, parts } : "changed";
}
