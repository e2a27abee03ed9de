// Checkpoints: every K steps the learner writes `<runDir>/checkpoints/step-<n>/` with the weights as a
// Hugging Face model directory (loadable by transformers), the AdamW moments, and `state.json` (step,
// policy version, algorithm state, data cursor, SHA-256 of every file) and the sampler's state, when it was
// readable, in its own file (sampler-state.ts: SAMPLER_STATE_FILE, hashed like the others). The directory is
// written under a temporary name and renamed, so a crash mid-write never leaves a half checkpoint that
// looks whole; a write that fails (ENOSPC) is reported loudly and the last good checkpoint stays.
// Resume takes the newest checkpoint whose checksums verify, falling back to older ones.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeEntry, parseSafetensors, parseShardIndex, readShardedSafetensors, shardedSafetensorsParts,
  type AdamWState, type HfModel, type SafetensorsEntry, type Weights,
} from "@lspo/model";
import { fileSource, hashFile, readModelDir, writeModelDir, writeParts } from "@lspo/tasks";
import type { AlgorithmStateSnapshot } from "@lspo/algos";

export interface CheckpointState {
  step: number;
  policyVersion: number;
  algorithm: AlgorithmStateSnapshot;
  /** The controller's data cursor at this step (opaque here). */
  cursor: unknown;
  /** Groups trained so far and their uids' count (for summary.json across restarts). */
  trainedGroups: number;
  /** Batches read so far, including ones whose groups were all stale (no update), and the stale groups
   *  dropped: the controller paces feeding on the first, summary.json counts the second. Absent in
   *  checkpoints written before they were recorded. */
  batchesConsumed?: number;
  staleGroups?: number;
  /** The uids trained so far (trained-uids.ts); absent in older checkpoints. */
  trainedUids?: string;
  /** Groups of batches dead-lettered (poison) so far. */
  deadLetteredGroups?: number;
  files: Record<string, string>;
}

export interface LoadedCheckpoint {
  dir: string;
  state: CheckpointState;
  model: HfModel;
  optimizer: AdamWState;
}

export class CheckpointError extends Error {
  override name = "CheckpointError";
}


/** Checkpoint shards hold at most this much tensor data each (transformers' save_pretrained shards at 5 GB;
 *  smaller ones keep every file well under what one buffer may hold and let a reader go a shard at a time). */
const CHECKPOINT_SHARD_BYTES = 2_000_000_000;
const OPTIMIZER_INDEX = "optimizer.safetensors.index.json";
/** An older checkpoint's optimizer state: one file. */
const OPTIMIZER_FILE = "optimizer.safetensors";

/**
 * The optimizer state in the Hugging Face sharded form: `optimizer-0000k-of-0000n.safetensors` (m.* and v.*, at
 * most CHECKPOINT_SHARD_BYTES each) and their index, whose metadata also carries the optimizer's step.
 */
function optimizerFiles(opt: AdamWState): Map<string, Uint8Array[]> {
  const entries: Array<[string, Weights extends Map<string, infer T> ? T : never]> = [];
  for (const [k, t] of opt.m) entries.push([`m.${k}`, t]);
  for (const [k, t] of opt.v) entries.push([`v.${k}`, t]);
  const { indexJson, shards } = shardedSafetensorsParts(entries, CHECKPOINT_SHARD_BYTES, { step: String(opt.step) }, {}, "optimizer");
  const index = JSON.parse(indexJson) as { metadata: Record<string, unknown> };
  index.metadata.step = opt.step;
  const files = new Map(shards);
  files.set(OPTIMIZER_INDEX, [new TextEncoder().encode(JSON.stringify(index, null, 2) + "\n")]);
  return files;
}

/** m.* and v.* entries -> AdamW state. Each tensor is read as it is decoded (lazy entries) and kept as read. */
function optimizerFrom(tensors: ReadonlyMap<string, SafetensorsEntry>, step: number, where: string): AdamWState {
  const m: Weights = new Map();
  const v: Weights = new Map();
  for (const [name, e] of tensors) {
    if (e.dtype !== "F32") throw new CheckpointError(`${where}: tensor '${name}' is ${e.dtype}, optimizer state is F32`);
    const t = decodeEntry(e) as { dtype: "float32"; shape: number[]; data: Float32Array };
    if (name.startsWith("m.")) m.set(name.slice(2), t);
    else if (name.startsWith("v.")) v.set(name.slice(2), t);
    else throw new CheckpointError(`${where}: unexpected tensor '${name}' (expected m.* and v.*)`);
  }
  return { step, m, v };
}

/** A checkpoint's optimizer state: the sharded form, or an older checkpoint's single file. */
function readOptimizer(dir: string): AdamWState {
  const sources: Array<{ close(): void }> = [];
  const open = (f: string) => {
    const src = fileSource(join(dir, f));
    sources.push(src);
    return src;
  };
  try {
    if (existsSync(join(dir, OPTIMIZER_INDEX))) {
      const where = `${dir}/${OPTIMIZER_INDEX}`;
      const index = parseShardIndex(readFileSync(join(dir, OPTIMIZER_INDEX), "utf8"), where);
      const step = Number(index.metadata.step);
      if (!Number.isInteger(step) || step < 0) throw new CheckpointError(`${where}: metadata.step must be an integer >= 0, got ${JSON.stringify(index.metadata.step)}`);
      return optimizerFrom(readShardedSafetensors(index, open, { lazy: true }), step, where);
    }
    const file = parseSafetensors(open(OPTIMIZER_FILE), `${dir}/${OPTIMIZER_FILE}`, { lazy: true });
    return optimizerFrom(file.tensors, Number(file.metadata?.step ?? 0), `${dir}/${OPTIMIZER_FILE}`);
  } finally {
    for (const s of sources) s.close();
  }
}

export function checkpointsDir(runDir: string): string {
  return join(runDir, "checkpoints");
}

/**
 * TEST-ONLY fault injection for the chaos suite where it cannot mount a tiny tmpfs (no root):
 * LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP=<n> makes every checkpoint of step >= n fail as a full disk does,
 * after its model files are written (so the cleanup of a half-written checkpoint runs too). Unset in
 * every real deployment; nothing else reads it.
 */
function injectedDiskFull(step: number): void {
  const from = process.env.LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP;
  if (from && step >= Number(from)) {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected: LSPO_FAULT_CHECKPOINT_ENOSPC_FROM_STEP=${from})`), { code: "ENOSPC" });
  }
}

/**
 * Writes a checkpoint atomically, with `extraFiles` (name -> bytes, hashed like the rest) beside the model and
 * optimizer files; returns its directory. Throws CheckpointError (e.g. ENOSPC) leaving older ones intact.
 */
export function writeCheckpoint(
  runDir: string, model: HfModel, optimizer: AdamWState, state: Omit<CheckpointState, "files">, keep: number,
  extraFiles: Readonly<Record<string, Uint8Array>> = {},
): string {
  const root = checkpointsDir(runDir);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(state.step).padStart(6, "0")}`;
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  const final = join(root, name);
  try {
    // A learner killed mid-write leaves its temporary directory behind: only one learner writes here, so
    // any is garbage (and on a nearly full disk, space this write may need).
    for (const n of readdirSync(root)) if (/^\.step-\d+\.tmp-\d+$/.test(n)) rmSync(join(root, n), { recursive: true, force: true });
    // Always the sharded Hugging Face form, the model's and the optimizer state's: any size is written, read
    // and hashed a shard (and within it a tensor) at a time.
    const written = writeModelDir(tmp, model, { sharded: true, maxShardBytes: CHECKPOINT_SHARD_BYTES });
    injectedDiskFull(state.step);
    const ownNames: string[] = [];
    for (const [name, parts] of optimizerFiles(optimizer)) {
      writeParts(join(tmp, name), parts);
      ownNames.push(name);
    }
    for (const [name, bytes] of Object.entries(extraFiles)) {
      writeFileSync(join(tmp, name), bytes);
      ownNames.push(name);
    }
    const files: Record<string, string> = {};
    for (const f of [...written.map((p) => p.split("/").pop()!), ...ownNames]) files[f] = hashFile(join(tmp, f));
    writeFileSync(join(tmp, "state.json"), JSON.stringify({ ...state, files }, null, 1));
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw new CheckpointError(`checkpoint step ${state.step} could not be written to ${root}: ${(err as Error).message}; the last good checkpoint is kept`);
  }
  const all = listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old, { recursive: true, force: true });
  return final;
}

/** Checkpoint directories, oldest first (temporary ones excluded). */
export function listCheckpoints(runDir: string): string[] {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => /^step-\d+$/.test(n))
    .sort()
    .map((n) => join(root, n));
}

export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const statePath = join(dir, "state.json");
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(statePath, "utf8")) as CheckpointState;
  } catch (err) {
    throw new CheckpointError(`${statePath}: unreadable (${(err as Error).message})`);
  }
  for (const [file, want] of Object.entries(state.files ?? {})) {
    let got: string;
    try {
      got = hashFile(join(dir, file));
    } catch {
      throw new CheckpointError(`${dir}/${file}: missing`);
    }
    if (got !== want) throw new CheckpointError(`${dir}/${file}: checksum mismatch (corrupt checkpoint)`);
  }
  const model = readModelDir(dir);
  const optimizer = readOptimizer(dir);
  return { dir, state, model, optimizer };
}

/** The newest checkpoint that verifies, with the reasons older/newer ones were skipped. */
export function latestValidCheckpoint(runDir: string): { checkpoint: LoadedCheckpoint | null; skipped: string[] } {
  const skipped: string[] = [];
  for (const dir of listCheckpoints(runDir).reverse()) {
    try {
      return { checkpoint: loadCheckpoint(dir), skipped };
    } catch (err) {
      skipped.push((err as Error).message);
    }
  }
  return { checkpoint: null, skipped };
}
