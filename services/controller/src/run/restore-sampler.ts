// A resume on a fresh NATS: the sampler's state comes back from the controller's copy of the newest
// checkpoint's (sampler-copies.ts), checked against the manifest's size and SHA-256. The state is the sampler's
// snapshot and the objects it names (its uid and window segments, each `<snapshot>.<part>`: learner's
// sampler-state.ts); the parts go back first, then the snapshot, so the sampler never finds a snapshot naming
// a segment that is not there.
import { putBlob, samplerSnapshotObject, type RunEvent, type openObjectStore } from "@lspo/bus";
import { decodeSamplerState, type SamplerState } from "@lspo/learner";
import { readSamplerStateCopy, type SamplerStateCopies } from "./sampler-copies.js";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

/** Restored with how many parts, or not and why ("none": the checkpoint holds no sampler state). */
export type SamplerRestore = { restored: true; parts: number } | { restored: false; why: string };

/** Writes the sampler state of the manifest's checkpoint (the controller's copy) to `store`; says what it did, and why not when it did not. */
export async function restoreSamplerState(manifest: RunEvent, runId: string, store: Store, copies: SamplerStateCopies): Promise<SamplerRestore> {
  const name = samplerSnapshotObject(runId);
  const copy = readSamplerStateCopy(copies, manifest);
  if ("none" in copy) return { restored: false, why: copy.none };
  let state: SamplerState;
  try {
    // Every part is checked before anything is written, so a bad copy writes nothing.
    state = decodeSamplerState(copy.bytes, name);
  } catch (err) {
    return { restored: false, why: (err as Error).message };
  }
  for (const [part, bytes] of state.parts) await putBlob(store, part, bytes);
  await putBlob(store, name, state.snapshot);
  return { restored: true, parts: state.parts.size };
}
