// Reading snapshots back: every part is checked and a bad one is named by its path.
import { InvalidConfigError, InvalidGroupError, InvalidSnapshotError } from "./errors.js";
import { validateGroup, type Group } from "./group.js";
import { describe } from "./options.js";
import { outcomeNames, type OutcomeCounts } from "./outcomes.js";
import type { PendingState } from "./pending.js";
import type { Thresholds } from "./quantile.js";
import { UidSet } from "./uid-set.js";

/** Bumped whenever a snapshot's shape changes; restore refuses other versions. */
export const SNAPSHOT_VERSION = 1;

function bad(path: string, what: string, v: unknown): never {
  throw new InvalidSnapshotError(path, `snapshot: '${path}' must be ${what}, got ${describe(v)}`);
}

export function readObject(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(path, "an object", v);
  return v as Record<string, unknown>;
}

export function readArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) bad(path, "an array", v);
  return v;
}

export function readCount(v: unknown, path: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) bad(path, "a non-negative integer", v);
  return v as number;
}

export function readNumber(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) bad(path, "a finite number", v);
  return v;
}

/** The header: the snapshot's kind and version. */
export function readHeader(snap: unknown, format: string): Record<string, unknown> {
  const s = readObject(snap, "(root)");
  if (s.format !== format) bad("format", `"${format}" (a snapshot of this kind of sampler)`, s.format);
  if (s.version !== SNAPSHOT_VERSION) bad("version", `${SNAPSHOT_VERSION} (this library's snapshot version)`, s.version);
  return s;
}

/** Resolves the stored config with the same checks as a new sampler's, naming the option on failure. */
export function readConfig<C>(v: unknown, resolve: (given: unknown) => C): C {
  try {
    return resolve(readObject(v, "config"));
  } catch (e) {
    if (e instanceof InvalidConfigError) throw new InvalidSnapshotError(`config.${e.option}`, `snapshot: config: ${e.message}`);
    throw e;
  }
}

export function readCounts(v: unknown, path: string): OutcomeCounts {
  const o = readObject(v, path);
  for (const key of Object.keys(o)) if (!outcomeNames.includes(key as never)) bad(`${path}.${key}`, `one of the outcomes (${outcomeNames.join(", ")})`, key);
  const out = {} as OutcomeCounts;
  for (const name of outcomeNames) out[name] = readCount(o[name], `${path}.${name}`);
  return out;
}

export function readSeen(v: unknown, path: string): UidSet {
  const arr = readArray(v, path);
  const seen = new UidSet();
  arr.forEach((u, i) => {
    if (typeof u !== "string" || u.length === 0) bad(`${path}[${i}]`, "a non-empty uid string", u);
    if (!seen.add(u)) bad(`${path}[${i}]`, "a uid not listed before", u);
  });
  return seen;
}

/** The pending batch: valid groups, fewer than B of them, each already seen. */
export function readPending(s: Record<string, unknown>, batchSize: number, seen: UidSet): PendingState {
  const pending: Group[] = readArray(s.pending, "pending").map((g, i) => {
    try {
      return validateGroup(g, `snapshot: pending[${i}]`);
    } catch (e) {
      if (e instanceof InvalidGroupError) throw new InvalidSnapshotError(`pending[${i}].${e.field}`, e.message);
      throw e;
    }
  });
  if (pending.length >= batchSize) {
    throw new InvalidSnapshotError("pending", `snapshot: 'pending' holds ${pending.length} groups but must hold fewer than batchSize (${batchSize}): a full batch is emitted at once`);
  }
  pending.forEach((g, i) => {
    if (!seen.has(g.uid)) bad(`pending[${i}].uid`, "a uid listed in 'seen'", g.uid);
  });
  return {
    pending,
    nextBatchIndex: readCount(s.nextBatchIndex, "nextBatchIndex"),
    groupsEmitted: readCount(s.groupsEmitted, "groupsEmitted"),
    discardedOverflow: readCount(s.discardedOverflow, "discardedOverflow"),
  };
}

export function readThresholds(v: unknown, path: string): Thresholds | null {
  if (v === null) return null;
  const o = readObject(v, path);
  return {
    low: readNumber(o.low, `${path}.low`),
    high: readNumber(o.high, `${path}.high`),
    max: readNumber(o.max, `${path}.max`),
    windowFill: readCount(o.windowFill, `${path}.windowFill`),
  };
}

/** Fails unless `v` is a non-negative finite number or (when allowed) null. */
export function readSlot(v: unknown, path: string, nullAllowed: boolean): number {
  if (v === null && nullAllowed) return NaN;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) bad(path, nullAllowed ? "a mean length >= 0 or null" : "a mean length >= 0", v);
  return v;
}
