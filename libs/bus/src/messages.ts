// Structural checks of each message kind's body, run by consumers after the envelope is decoded. They
// catch what a type system cannot see on the wire: missing fields, wrong types, NaN/Inf in numeric arrays,
// misaligned byte arrays. Domain checks (token ids inside the vocabulary) belong to the consumer.

export type Validator = (body: unknown) => string | null;

type Shape = Record<string, "string" | "number" | "boolean" | "bytes" | "bigint" | "array" | "object" | "date">;

function checkShape(body: unknown, shape: Shape, path: string, optional: ReadonlySet<string> = new Set()): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return `${path} is not an object`;
  const o = body as Record<string, unknown>;
  for (const [key, want] of Object.entries(shape)) {
    const v = o[key];
    if (v === undefined) {
      if (optional.has(key)) continue;
      return `${path}.${key} is missing`;
    }
    const ok =
      want === "bytes" ? v instanceof Uint8Array
      : want === "array" ? Array.isArray(v)
      : want === "date" ? v instanceof Date
      : want === "object" ? typeof v === "object" && v !== null
      : want === "bigint" ? typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v) && v >= 0)
      : typeof v === want;
    if (!ok) return `${path}.${key} should be ${want}, got ${v === null ? "null" : typeof v}`;
    if (want === "number" && !Number.isFinite(v as number)) return `${path}.${key} is not finite (${String(v)})`;
  }
  return null;
}

function finiteFloat32(bytes: Uint8Array, path: string): string | null {
  if (bytes.byteLength % 4 !== 0) return `${path} has ${bytes.byteLength} bytes, not a multiple of 4`;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += 4) {
    const x = dv.getFloat32(i, true);
    if (!Number.isFinite(x)) return `${path}[${i / 4}] is ${x}`;
  }
  return null;
}

const promptShape: Shape = { uid: "string", runId: "string", task: "string", promptText: "string", promptIds: "bytes", answer: "string", groupSize: "number", cursor: "bigint" };

export const validatePromptRequest: Validator = (body) => {
  const err = checkShape(body, promptShape, "PromptRequest");
  if (err) return err;
  const p = body as { uid: string; promptIds: Uint8Array; groupSize: number };
  if (!p.uid) return "PromptRequest.uid is empty";
  if (p.promptIds.byteLength % 4 !== 0) return "PromptRequest.promptIds is not int32 data";
  if (!Number.isInteger(p.groupSize) || p.groupSize < 1) return `PromptRequest.groupSize must be an integer >= 1, got ${p.groupSize}`;
  return null;
};

export const validateRolloutGroup: Validator = (body) => {
  const err = checkShape(body, { uid: "string", prompt: "object", responses: "array", policyVersion: "bigint", actor: "string" }, "RolloutGroup");
  if (err) return err;
  const g = body as { prompt: unknown; responses: unknown[] };
  const perr = validatePromptRequest(g.prompt);
  if (perr) return `RolloutGroup.prompt: ${perr}`;
  if (g.responses.length === 0) return "RolloutGroup.responses is empty";
  for (let i = 0; i < g.responses.length; i++) {
    const path = `RolloutGroup.responses[${i}]`;
    const rerr = checkShape(g.responses[i], { tokenIds: "bytes", logprobs: "bytes", truncated: "boolean", text: "string" }, path);
    if (rerr) return rerr;
    const r = g.responses[i] as { tokenIds: Uint8Array; logprobs: Uint8Array };
    if (r.tokenIds.byteLength % 4 !== 0) return `${path}.tokenIds is not int32 data`;
    if (r.logprobs.byteLength !== r.tokenIds.byteLength) return `${path}.logprobs has ${r.logprobs.byteLength / 4} entries for ${r.tokenIds.byteLength / 4} tokens`;
    const ferr = finiteFloat32(r.logprobs, `${path}.logprobs`);
    if (ferr) return ferr;
  }
  return null;
};

export const validateVerifiedGroup: Validator = (body) => {
  const err = checkShape(body, { group: "object", rewards: "array", correct: "array" }, "VerifiedGroup");
  if (err) return err;
  const v = body as { group: { responses: unknown[] }; rewards: unknown[]; correct: unknown[] };
  const gerr = validateRolloutGroup(v.group);
  if (gerr) return `VerifiedGroup.group: ${gerr}`;
  if (v.rewards.length !== v.group.responses.length) return `VerifiedGroup.rewards has ${v.rewards.length} entries for ${v.group.responses.length} responses`;
  for (let i = 0; i < v.rewards.length; i++) {
    if (typeof v.rewards[i] !== "number" || !Number.isFinite(v.rewards[i])) return `VerifiedGroup.rewards[${i}] is not a finite number`;
  }
  return null;
};

export const validateTrainingBatch: Validator = (body) => {
  const err = checkShape(body, { batchIndex: "bigint", groups: "array", objectRef: "string" }, "TrainingBatch");
  if (err) return err;
  const b = body as { groups: unknown[]; objectRef: string };
  if (b.groups.length === 0 && !b.objectRef) return "TrainingBatch has no groups and no objectRef";
  for (let i = 0; i < b.groups.length; i++) {
    const e = validateVerifiedGroup(b.groups[i]);
    if (e) return `TrainingBatch.groups[${i}]: ${e}`;
  }
  return null;
};

export const validateWeightsRef: Validator = (body) =>
  checkShape(body, { version: "bigint", step: "bigint", objectName: "string", sizeBytes: "bigint", sha256: "string" }, "WeightsRef");

/** Validators by envelope kind. */
export const VALIDATORS: Record<string, Validator> = {
  PromptRequest: validatePromptRequest,
  RolloutGroup: validateRolloutGroup,
  VerifiedGroup: validateVerifiedGroup,
  TrainingBatch: validateTrainingBatch,
  WeightsRef: validateWeightsRef,
};
