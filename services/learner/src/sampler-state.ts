// The sampler's durable state as a checkpoint keeps it. The sampler saves a snapshot object that names other
// objects of the same store (its uid segments and window log, services/sampler/src/durable.ts), each called
// `<snapshot>.<part>`. The snapshot alone is of no use where those objects are gone (a resume on a fresh NATS),
// so a checkpoint keeps the snapshot and its parts, read as one consistent set: the sampler may save (and
// delete the segments it dropped) while they are read, so the set counts only if the snapshot is still the
// same object after its parts were read. Its parts are the strings in the snapshot that name such an object;
// what each one is stays the sampler's business.
import { decodeEnvelope, getBlob, type openObjectStore } from "@lspo/bus";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

export interface SamplerState {
  snapshot: Uint8Array;
  /** The objects the snapshot names (`<snapshot>.<part>`), by name. */
  parts: Map<string, Uint8Array>;
}

export interface ReadSamplerStateOptions {
  /** Reads of the whole set before giving up (each one after a save got in the way or a read stalled). */
  tries?: number;
  /** One try gives up after this long (a read racing a rewrite can stall on chunks being replaced). */
  tryTimeoutMs?: number;
}

/** The sampler's snapshot `name` and its parts, consistent; null when there is no snapshot or no try succeeded. */
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

/** The object names (`<name>.<part>`) among the strings anywhere in a snapshot's body, each once. */
function partsOf(snapshot: Uint8Array, name: string): string[] {
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
  walk(decodeEnvelope(snapshot, "SamplerSnapshot").body);
  return [...found];
}

async function readOnce(store: Store, name: string): Promise<SamplerState | "absent" | "changed"> {
  const before = await store.info(name).catch(() => null);
  if (!before || before.deleted) return "absent";
  let snapshot: Uint8Array;
  const parts = new Map<string, Uint8Array>();
  try {
    snapshot = await getBlob(store, name);
    for (const part of partsOf(snapshot, name)) parts.set(part, await getBlob(store, part));
  } catch {
    return "changed"; // replaced while read, or a part deleted by a newer save: read again
  }
  // Every part the snapshot names was read. A name the sampler dropped may be written again later (a restart
  // replays into the same uid range), so the set is certain only if the snapshot is the same object as before.
  const after = await store.info(name).catch(() => null);
  return after && !after.deleted && after.nuid === before.nuid && after.digest === before.digest ? { snapshot, parts } : "changed";
}
