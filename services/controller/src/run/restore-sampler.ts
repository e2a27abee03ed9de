// A resume on a fresh NATS: the sampler's state comes back from the newest checkpoint's manifest. The learner
// puts the sampler's snapshot there with the objects it names (its uid and window segments, each named
// `<snapshot>.<part>`: services/learner/src/sampler-state.ts); they go back first, then the snapshot, so the
// sampler never finds a snapshot naming a segment that is not there. Checkpoints older than the parts carry
// the snapshot alone, which loads only if it names no segment (snapshot formats before 3).
import { putBlob, type RunEvent, type openObjectStore } from "@lspo/bus";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

/** Restored with how many parts, or not and why ("none": the checkpoint holds no sampler state). */
export type SamplerRestore = { restored: true; parts: number } | { restored: false; why: string };

/** Writes the manifest's sampler parts and snapshot to `store`; says what it did, and why not when it did not. */
export async function restoreSamplerState(manifest: RunEvent, runId: string, store: Store): Promise<SamplerRestore> {
  const name = `sampler-${runId}.snapshot`;
  const { sampler, samplerParts } = manifest as { sampler?: unknown; samplerParts?: unknown };
  if (typeof sampler !== "string" || !sampler) {
    return { restored: false, why: Number(manifest.samplerBytes ?? 0) > 0 ? "too big for the manifest" : "none" };
  }
  // The manifest arrived over NATS: check every part before writing anything, so a bad one writes nothing.
  const parts = samplerParts ?? {};
  if (typeof parts !== "object" || Array.isArray(parts)) return { restored: false, why: `samplerParts is ${Array.isArray(parts) ? "an array" : typeof parts}, not an object of base64 strings by name` };
  for (const [part, bytes] of Object.entries(parts)) {
    if (!part.startsWith(`${name}.`)) return { restored: false, why: `samplerParts names '${part}', which is not a part of ${name}` };
    if (typeof bytes !== "string") return { restored: false, why: `samplerParts['${part}'] is ${typeof bytes}, not base64` };
  }
  for (const [part, bytes] of Object.entries(parts as Record<string, string>)) await putBlob(store, part, Buffer.from(bytes, "base64"));
  await putBlob(store, name, Buffer.from(sampler, "base64"));
  return { restored: true, parts: Object.keys(parts).length };
}
