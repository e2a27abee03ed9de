// The controller's copies of the checkpoints' sampler states. A checkpoint manifest names its sampler state by
// reference (an object in NATS with its size and SHA-256: learner's sampler-state.ts); the state itself can be
// tens of MB (W = 1M), too big for a run event. As each manifest arrives the controller copies that object into
// its own run directory, `sampler-states/step-<n>.msgpack`, checked against the manifest, and keeps as many as
// the learner keeps checkpoints. A resume after the NATS store is lost puts the copy back (restore-sampler.ts):
// the store that held the object is gone by then, the controller's run directory is not.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getBlob, type RunEvent, type openObjectStore } from "@lspo/bus";
import { sha256Hex, type SamplerStateRef } from "@lspo/learner";

type Store = Awaited<ReturnType<typeof openObjectStore>>;

/** The manifest's sampler state reference, or why there is none usable (malformed manifests included). */
export function samplerStateRefOf(manifest: RunEvent): SamplerStateRef | { none: string } {
  const ref = manifest.samplerState as Partial<SamplerStateRef> | null | undefined;
  if (ref == null) {
    if (typeof manifest.sampler === "string") return { none: "the manifest carries its sampler state inline, as lspo did before checkpoints named it by object; this version does not read that form" };
    return { none: "none" };
  }
  if (typeof ref !== "object" || Array.isArray(ref)) return { none: `samplerState is ${Array.isArray(ref) ? "an array" : typeof ref}, not {object, bytes, sha256}` };
  if (typeof ref.object !== "string" || !ref.object) return { none: `samplerState.object is ${JSON.stringify(ref.object)}, not an object name` };
  if (!Number.isSafeInteger(ref.bytes) || ref.bytes! < 0) return { none: `samplerState.bytes is ${JSON.stringify(ref.bytes)}, not a byte count` };
  if (typeof ref.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(ref.sha256)) return { none: `samplerState.sha256 is ${JSON.stringify(ref.sha256)}, not a SHA-256 in hex` };
  return { object: ref.object, bytes: ref.bytes!, sha256: ref.sha256 };
}

export class SamplerStateCopies {
  readonly dir: string;
  private queue: Promise<void> = Promise.resolve();

  /**
   * @param runDir the controller's run directory (the copies go in its `sampler-states/`)
   * @param keep how many copies to keep, newest first (the learner's `keepCheckpoints`)
   * @param onFailed told of each copy that could not be made (the resume that needs it starts the sampler afresh)
   */
  constructor(runDir: string, private readonly store: Store, private readonly keep: number, private readonly onFailed: (step: number, err: Error) => void) {
    this.dir = join(runDir, "sampler-states");
  }

  /** Where step `step`'s copy lives. */
  pathOf(step: number): string {
    return join(this.dir, `step-${String(step).padStart(6, "0")}.msgpack`);
  }

  /** Queues the copy of a manifest's sampler state; copies are made one at a time, in the order taken. */
  take(manifest: RunEvent): void {
    this.queue = this.queue.then(() => this.copy(manifest)).catch((err: Error) => this.onFailed(Number(manifest.step), err));
  }

  /** Resolves when every copy taken so far is made (or has failed and been reported). */
  drain(): Promise<void> {
    return this.queue;
  }

  private async copy(manifest: RunEvent): Promise<void> {
    const ref = samplerStateRefOf(manifest);
    if ("none" in ref) {
      if (ref.none !== "none") throw new Error(ref.none);
      return;
    }
    const step = Number(manifest.step);
    if (!Number.isSafeInteger(step) || step < 0) throw new Error(`the manifest's step is ${JSON.stringify(manifest.step)}, not a step number`);
    const path = this.pathOf(step);
    if (existsSync(path) && sha256Hex(readFileSync(path)) === ref.sha256) return; // a replayed manifest
    const bytes = await getBlob(this.store, ref.object);
    const sha = sha256Hex(bytes);
    if (bytes.byteLength !== ref.bytes || sha !== ref.sha256) {
      throw new Error(`object '${ref.object}' is ${bytes.byteLength} bytes with SHA-256 ${sha}, the manifest says ${ref.bytes} bytes with ${ref.sha256}`);
    }
    mkdirSync(this.dir, { recursive: true });
    // Under a temporary name, then renamed: a controller killed mid-write never leaves a half copy that looks
    // whole. Only one controller writes here, so a temporary file found is one such leftover.
    for (const n of readdirSync(this.dir)) if (/\.tmp-\d+$/.test(n)) rmSync(join(this.dir, n), { force: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    const copies = readdirSync(this.dir).filter((n) => /^step-\d+\.msgpack$/.test(n)).sort();
    for (const old of copies.slice(0, Math.max(0, copies.length - this.keep))) rmSync(join(this.dir, old), { force: true });
  }
}

/** The copy of a manifest's sampler state, checked against it; or why there is none that can be used. */
export function readSamplerStateCopy(copies: SamplerStateCopies, manifest: RunEvent): { bytes: Uint8Array } | { none: string } {
  const ref = samplerStateRefOf(manifest);
  if ("none" in ref) return ref;
  const path = copies.pathOf(Number(manifest.step));
  if (!existsSync(path)) return { none: `the controller holds no copy of it (${path}): it was not copied before the store was lost` };
  const bytes = readFileSync(path);
  const sha = sha256Hex(bytes);
  if (bytes.byteLength !== ref.bytes || sha !== ref.sha256) return { none: `${path} is ${bytes.byteLength} bytes with SHA-256 ${sha}, the manifest says ${ref.bytes} bytes with ${ref.sha256} (a corrupt copy)` };
  return { bytes };
}
