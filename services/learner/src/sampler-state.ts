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
import { decodeEnvelope, deleteObject, encodeEnvelope, getBlob, putBlob, type NatsConnection, type openObjectStore } from "@lspo/bus";

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
  /** Reads of the whole set before giving up (each one after a save got in the way or a read stalled). */
  tries?: number;
  /** One try gives up after this long (a read racing a rewrite can stall on chunks being replaced). */
  tryTimeoutMs?: number;
}

/**
 * The sampler's snapshot `name` and its parts, consistent; null when there is no snapshot or no try succeeded.
 * Throws, naming what is wrong, for a snapshot that is not one (not an envelope, or a part listed outside its name).
 */
export async function readSamplerState(store: Store, name: string, opts: ReadSamplerStateOptions = {}): Promise<SamplerState | null> {
  for (let attempt = 0; attempt < (opts.tries ?? 3); attempt++) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), opts.tryTimeoutMs ?? 3000)));
    const got = await Promise.race([readOnce(store, name), timeout]).finally(() => clearTimeout(timer));
    if (got === "absent") return null;
    if (got !== "timeout" && got !== "changed") return got;
  }
  return null;
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

async function readOnce(store: Store, name: string): Promise<SamplerState | "absent" | "changed"> {
  const before = await store.info(name).catch(() => null);
  if (!before || before.deleted) return "absent";
  let snapshot: Uint8Array;
  const parts = new Map<string, Uint8Array>();
  try {
    snapshot = await getBlob(store, name);
  } catch {
    return "changed"; // replaced while read: read again
  }
  const names = partsOf(snapshot, name); // throws for a snapshot that is not one: reading again cannot mend it
  try {
    for (const part of names) parts.set(part, await getBlob(store, part));
  } catch {
    return "changed"; // a part deleted by a newer save: read again
  }
  // Every part the snapshot names was read. A name the sampler dropped may be written again later (a restart
  // replays into the same uid range), so the set is certain only if the snapshot is the same object as before.
  const after = await store.info(name).catch(() => null);
  return after && !after.deleted && after.nuid === before.nuid && after.digest === before.digest ? { snapshot, parts } : "changed";
}
