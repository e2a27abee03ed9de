// Structural checks of each message kind's body, run by consumers after the envelope is decoded. They
// catch what a type system cannot see on the wire: missing fields, wrong types, NaN/Inf in numeric arrays,
// misaligned byte arrays. Domain checks (token ids inside the vocabulary) belong to the consumer.

export type Validator = (body: unknown) => string | null;

type Want = "string" | "number" | "boolean" | "bytes" | "bigint" | "array" | "object" | "date";

// One test per expected type (uint64 fields arrive as bigint, or as a safe non-negative integer number).
const IS: Record<Want, (v: unknown) => boolean> = {
  string: (v) => typeof v === "string",
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  bytes: (v) => v instanceof Uint8Array,
  bigint: (v) => typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v) && v >= 0),
  array: (v) => Array.isArray(v),
  object: (v) => typeof v === "object" && v !== null,
  date: (v) => v instanceof Date,
};

/** A message's required fields, as [key, type] pairs: built once per kind, not per message (the hot path). */
type Shape = readonly (readonly [string, Want])[];
const shape = (fields: Record<string, Want>): Shape => Object.entries(fields);

/**
 * The first structural problem of `body` as a suffix for its path (".uid is missing"), or null. The caller
 * prepends the path only on failure, so a valid message costs no string building.
 */
function checkShape(body: unknown, fields: Shape): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return " is not an object";
  const o = body as Record<string, unknown>;
  for (const [key, want] of fields) {
    const v = o[key];
    if (v === undefined) return `.${key} is missing`;
    if (!IS[want](v)) return `.${key} should be ${want}, got ${v === null ? "null" : typeof v}`;
    if (want === "number" && !Number.isFinite(v as number)) return `.${key} is not finite (${String(v)})`;
  }
  return null;
}

/**
 * Index of the first NaN or ±Infinity in little-endian float32 bytes, or -1. A float32 is non-finite exactly
 * when its 8 exponent bits are all ones: the low 7 bits of its last byte and the top bit of the byte before.
 * Reading bytes works at any alignment (a `bytes` field may be a view at any offset) and is about 10x
 * faster than DataView.getFloat32 per element.
 */
export function firstNonFiniteFloat32(bytes: Uint8Array): number {
  const n = bytes.byteLength - (bytes.byteLength % 4);
  for (let i = 3; i < n; i += 4) {
    if ((bytes[i] & 0x7f) === 0x7f && (bytes[i - 1] & 0x80) !== 0) return (i - 3) >> 2;
  }
  return -1;
}

function finiteFloat32(bytes: Uint8Array, path: string): string | null {
  if (bytes.byteLength % 4 !== 0) return `${path} has ${bytes.byteLength} bytes, not a multiple of 4`;
  const at = firstNonFiniteFloat32(bytes);
  if (at < 0) return null;
  const x = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat32(at * 4, true);
  return `${path}[${at}] is ${x}`;
}

const PROMPT = shape({ uid: "string", runId: "string", task: "string", promptText: "string", promptIds: "bytes", answer: "string", groupSize: "number", cursor: "bigint" });
const ROLLOUT = shape({ uid: "string", prompt: "object", responses: "array", policyVersion: "bigint", actor: "string" });
const RESPONSE = shape({ tokenIds: "bytes", logprobs: "bytes", truncated: "boolean", text: "string" });
const VERIFIED = shape({ group: "object", rewards: "array", correct: "array" });
const BATCH = shape({ batchIndex: "bigint", groups: "array", objectRef: "string" });
const GROUP_REF = shape({ uid: "string", seq: "bigint" });
const WEIGHTS = shape({ version: "bigint", step: "bigint", objectName: "string", sizeBytes: "bigint", sha256: "string" });

export const validatePromptRequest: Validator = (body) => {
  const err = checkShape(body, PROMPT);
  if (err) return `PromptRequest${err}`;
  const p = body as { uid: string; promptIds: Uint8Array; groupSize: number };
  if (!p.uid) return "PromptRequest.uid is empty";
  if (p.promptIds.byteLength % 4 !== 0) return "PromptRequest.promptIds is not int32 data";
  if (!Number.isInteger(p.groupSize) || p.groupSize < 1) return `PromptRequest.groupSize must be an integer >= 1, got ${p.groupSize}`;
  return null;
};

// A function, not a string built per response: paths are only spelled out for the message that fails.
const responsePath = (i: number): string => `RolloutGroup.responses[${i}]`;

export const validateRolloutGroup: Validator = (body) => {
  const err = checkShape(body, ROLLOUT);
  if (err) return `RolloutGroup${err}`;
  const g = body as { prompt: unknown; responses: unknown[] };
  const perr = validatePromptRequest(g.prompt);
  if (perr) return `RolloutGroup.prompt: ${perr}`;
  if (g.responses.length === 0) return "RolloutGroup.responses is empty";
  for (let i = 0; i < g.responses.length; i++) {
    const rerr = checkShape(g.responses[i], RESPONSE);
    if (rerr) return `${responsePath(i)}${rerr}`;
    const r = g.responses[i] as { tokenIds: Uint8Array; logprobs: Uint8Array };
    if (r.tokenIds.byteLength % 4 !== 0) return `${responsePath(i)}.tokenIds is not int32 data`;
    if (r.logprobs.byteLength !== r.tokenIds.byteLength) return `${responsePath(i)}.logprobs has ${r.logprobs.byteLength / 4} entries for ${r.tokenIds.byteLength / 4} tokens`;
    if (firstNonFiniteFloat32(r.logprobs) >= 0) return finiteFloat32(r.logprobs, `${responsePath(i)}.logprobs`);
  }
  return null;
};

export const validateVerifiedGroup: Validator = (body) => {
  const err = checkShape(body, VERIFIED);
  if (err) return `VerifiedGroup${err}`;
  const v = body as { group: { responses: unknown[] }; rewards: unknown[]; correct: unknown[] };
  const gerr = validateRolloutGroup(v.group);
  if (gerr) return `VerifiedGroup.group: ${gerr}`;
  if (v.rewards.length !== v.group.responses.length) return `VerifiedGroup.rewards has ${v.rewards.length} entries for ${v.group.responses.length} responses`;
  for (let i = 0; i < v.rewards.length; i++) {
    if (typeof v.rewards[i] !== "number" || !Number.isFinite(v.rewards[i])) return `VerifiedGroup.rewards[${i}] is not a finite number`;
  }
  if (v.correct.length !== v.rewards.length) return `VerifiedGroup.correct has ${v.correct.length} entries for ${v.rewards.length} responses`;
  for (let i = 0; i < v.correct.length; i++) {
    if (typeof v.correct[i] !== "boolean") return `VerifiedGroup.correct[${i}] should be boolean, got ${typeof v.correct[i]}`;
  }
  return null;
};

export const validateTrainingBatch: Validator = (body) => {
  const err = checkShape(body, BATCH);
  if (err) return `TrainingBatch${err}`;
  const b = body as { groups: unknown[]; objectRef: string; groupRefs?: unknown };
  const refs = b.groupRefs ?? [];
  if (!Array.isArray(refs)) return `TrainingBatch.groupRefs should be array, got ${typeof refs}`;
  for (let i = 0; i < refs.length; i++) {
    const e = checkShape(refs[i], GROUP_REF);
    if (e) return `TrainingBatch.groupRefs[${i}]${e}`;
  }
  if (b.groups.length === 0 && !b.objectRef && refs.length === 0) return "TrainingBatch has no groups, no groupRefs and no objectRef";
  for (let i = 0; i < b.groups.length; i++) {
    const e = validateVerifiedGroup(b.groups[i]);
    if (e) return `TrainingBatch.groups[${i}]: ${e}`;
  }
  return null;
};

const SHARD = shape({ objectName: "string", sizeBytes: "bigint", sha256: "string" });

export const validateWeightsRef: Validator = (body) => {
  const err = checkShape(body, WEIGHTS);
  if (err) return `WeightsRef${err}`;
  // Shards and dtype came later: a pointer from an older publisher has neither (one object, F32).
  const r = body as { shards?: unknown; dtype?: unknown };
  if (r.shards !== undefined) {
    if (!Array.isArray(r.shards)) return "WeightsRef.shards should be an array";
    for (let i = 0; i < r.shards.length; i++) {
      const e = checkShape(r.shards[i], SHARD);
      if (e) return `WeightsRef.shards[${i}]${e}`;
      if (!/^[0-9a-f]{64}$/.test((r.shards[i] as { sha256: string }).sha256)) return `WeightsRef.shards[${i}].sha256 is not a hex SHA-256`;
    }
  }
  if (r.dtype !== undefined && r.dtype !== "" && r.dtype !== "F32" && r.dtype !== "BF16") return `WeightsRef.dtype should be F32 or BF16, got ${String(r.dtype)}`;
  return null;
};

/** Validators by envelope kind. */
export const VALIDATORS: Record<string, Validator> = {
  PromptRequest: validatePromptRequest,
  RolloutGroup: validateRolloutGroup,
  VerifiedGroup: validateVerifiedGroup,
  TrainingBatch: validateTrainingBatch,
  WeightsRef: validateWeightsRef,
  // Run events are free-form records (metrics); only their being an object is checked here.
  RunEvent: (body) => (typeof body === "object" && body !== null && !Array.isArray(body) ? null : "RunEvent body should be an object"),
};
