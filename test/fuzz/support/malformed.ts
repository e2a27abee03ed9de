// Malformed payloads for every consumer of the data plane, each one invalid by construction: random and
// truncated bytes, envelopes of the wrong kind or schema version, bodies with a missing or mistyped field,
// NaN/Inf in numeric arrays, token ids outside the vocabulary, misaligned byte arrays, payloads over the
// run's bounds, and each consumer's own domain errors. Built from valid messages by seeded mutation. The
// sampler reads a verified group's summary header only, so its malformed messages are valid bodies under
// malformed headers; the bodies' own checks are the learner's (a batch names them by sequence).
import { Packr } from "msgpackr";
import { GROUP_SUMMARY_HEADER, SCHEMA_VERSION, bytesOf, encodeEnvelope, payloadLimits, summaryHeader, summaryOf, type RunBounds } from "@lspo/bus";
import type { Rng } from "@lspo/model";
import type { PromptRequest, RolloutGroup, TrainingBatch, VerifiedGroup } from "@lspo/proto";

export type Kind = "PromptRequest" | "RolloutGroup" | "VerifiedGroup" | "TrainingBatch";
export interface Malformed {
  category: string;
  bytes: Uint8Array;
  /** NATS headers to publish it with. */
  headers?: Record<string, string>;
}

// The same encoder options as the bus codec, to build envelopes it would otherwise accept.
const packr = new Packr({ moreTypes: true, useRecords: false, int64AsType: "bigint", mapsAsObjects: true });
const int = (rng: Rng, n: number) => Math.floor(rng.float() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

// ---- valid messages (the templates mutations start from) ----

function prompt(rng: Rng, b: RunBounds, uid: string): PromptRequest {
  const n = 1 + int(rng, 8);
  return {
    uid, runId: "fuzz", task: "synthetic", promptText: "", answer: "1", groupSize: b.groupSize, cursor: 0n,
    promptIds: bytesOf(Int32Array.from({ length: n }, () => int(rng, b.vocabSize))),
  };
}

function rollout(rng: Rng, b: RunBounds, uid: string): RolloutGroup {
  const responses = Array.from({ length: b.groupSize }, () => {
    const n = 1 + int(rng, b.maxNewTokens);
    return {
      tokenIds: bytesOf(Int32Array.from({ length: n }, () => int(rng, b.vocabSize))),
      logprobs: bytesOf(Float32Array.from({ length: n }, () => -rng.float() * 5)),
      truncated: false,
      text: "x",
    };
  });
  return { uid, prompt: prompt(rng, b, uid), responses, policyVersion: 0n, actor: "fuzz" };
}

function verified(rng: Rng, b: RunBounds, uid: string): VerifiedGroup {
  const group = rollout(rng, b, uid);
  const rewards = group.responses.map(() => int(rng, 2));
  return { group, rewards, correct: rewards.map((r) => r === 1) };
}

function batch(rng: Rng, b: RunBounds, uid: string): TrainingBatch {
  return { batchIndex: 0n, groups: Array.from({ length: b.batchSize }, (_, i) => verified(rng, b, `${uid}-${i}`)), objectRef: "", groupRefs: [] };
}

export const VALID: Record<Kind, (rng: Rng, b: RunBounds, uid: string) => unknown> = {
  PromptRequest: prompt,
  RolloutGroup: rollout,
  VerifiedGroup: verified,
  TrainingBatch: batch,
};

// ---- mutations ----

type Body = Record<string, unknown>;
/** The rollout group inside a message of each kind (the prompt itself for PromptRequest). */
const groupOf: Record<Kind, (m: Body) => Body> = {
  PromptRequest: (m) => m,
  RolloutGroup: (m) => m,
  VerifiedGroup: (m) => m.group as Body,
  TrainingBatch: (m) => ((m.groups as Body[])[0].group as Body),
};
const promptOf = (k: Kind, m: Body): Body => (k === "PromptRequest" ? m : (groupOf[k](m).prompt as Body));
const verifiedOf = (k: Kind, m: Body): Body => (k === "VerifiedGroup" ? m : (m.groups as Body[])[0]);
const REQUIRED: Record<Kind, string[]> = {
  PromptRequest: ["uid", "runId", "task", "promptText", "promptIds", "answer", "groupSize", "cursor"],
  RolloutGroup: ["uid", "prompt", "responses", "policyVersion", "actor"],
  VerifiedGroup: ["group", "rewards", "correct"],
  TrainingBatch: ["batchIndex", "groups", "objectRef"],
};
const WRONG_VALUES: unknown[] = [null, 42, -1.5, "text", true, [], {}, new Uint8Array(3), new Date(0)];
const HAS_RESPONSES: Kind[] = ["RolloutGroup", "VerifiedGroup", "TrainingBatch"];

type Mutation = { category: string; kinds: readonly Kind[]; apply(rng: Rng, k: Kind, m: Body, b: RunBounds): Uint8Array | Body };
const env = (k: Kind, body: unknown) => encodeEnvelope(k, body);
const ALL: Kind[] = ["PromptRequest", "RolloutGroup", "VerifiedGroup", "TrainingBatch"];

/** Sets bytes of a float32 array element to NaN, +Inf or -Inf. */
function poisonFloats(bytes: Uint8Array, rng: Rng): Buffer {
  const f = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(f.buffer).set(bytes);
  f[int(rng, f.length)] = pick(rng, [NaN, Infinity, -Infinity]);
  return bytesOf(f);
}

function withIds(bytes: Uint8Array, rng: Rng, b: RunBounds): Buffer {
  const ids = new Int32Array(Math.max(1, bytes.byteLength / 4));
  new Uint8Array(ids.buffer).set(bytes.subarray(0, ids.byteLength));
  ids[int(rng, ids.length)] = pick(rng, [-1, -2147483648, b.vocabSize, b.vocabSize + 17, 2147483647]);
  return bytesOf(ids);
}

export const MUTATIONS: Mutation[] = [
  { category: "random-bytes", kinds: ALL, apply: (rng) => Uint8Array.from({ length: int(rng, 600) }, () => int(rng, 256)) },
  { category: "truncated", kinds: ALL, apply: (rng, k, m) => { const full = env(k, m); return full.subarray(0, int(rng, full.byteLength)); } },
  { category: "wrong-kind", kinds: ALL, apply: (rng, k, m) => env(pick(rng, ALL.filter((x) => x !== k)), m) },
  { category: "wrong-schema-version", kinds: ALL, apply: (rng, k, m) => packr.pack({ v: pick(rng, [0, SCHEMA_VERSION + 1, 99, "1", null]), kind: k, body: m }) },
  { category: "not-an-envelope", kinds: ALL, apply: (rng, k, m) => packr.pack(pick(rng, [m, [SCHEMA_VERSION, k, m], "hello", 7, null, { v: SCHEMA_VERSION, kind: k }])) },
  { category: "missing-field", kinds: ALL, apply: (rng, k, m) => { delete m[pick(rng, REQUIRED[k])]; return m; } },
  {
    category: "wrong-type", kinds: ALL,
    apply: (rng, k, m) => {
      const key = pick(rng, REQUIRED[k]);
      // A value of another type than the field's (a string field never gets a string, and so on).
      const current = m[key];
      const others = WRONG_VALUES.filter((v) => typeof v !== typeof current || Array.isArray(v) !== Array.isArray(current) || (v instanceof Uint8Array) !== (current instanceof Uint8Array));
      m[key] = pick(rng, others.filter((v) => !(key === "cursor" || key === "batchIndex" || key === "policyVersion") || typeof v !== "number" || !Number.isInteger(v) || (v as number) < 0));
      return m;
    },
  },
  {
    category: "oversize", kinds: ALL,
    // Just over the consumer's bound for this kind (well under the server's max payload).
    apply: (_rng, k, m, b) => { promptOf(k, m).promptText = "x".repeat(payloadLimits(b)[k] + 1024); return m; },
  },
  { category: "token-id-outside-vocabulary", kinds: ALL, apply: (rng, k, m, b) => { const p = promptOf(k, m); p.promptIds = withIds(p.promptIds as Uint8Array, rng, b); return m; } },
  {
    category: "response-token-outside-vocabulary", kinds: HAS_RESPONSES,
    apply: (rng, k, m, b) => { const r = pick(rng, groupOf[k](m).responses as Body[]); r.tokenIds = withIds(r.tokenIds as Uint8Array, rng, b); return m; },
  },
  {
    category: "nan-inf-logprobs", kinds: HAS_RESPONSES,
    apply: (rng, k, m) => { const r = pick(rng, groupOf[k](m).responses as Body[]); r.logprobs = poisonFloats(r.logprobs as Uint8Array, rng); return m; },
  },
  {
    category: "nan-inf-rewards", kinds: ["VerifiedGroup", "TrainingBatch"],
    apply: (rng, k, m) => { const v = verifiedOf(k, m); const rw = v.rewards as number[]; rw[int(rng, rw.length)] = pick(rng, [NaN, Infinity, -Infinity]); return m; },
  },
  { category: "misaligned-int32", kinds: ALL, apply: (rng, k, m) => { const p = promptOf(k, m); p.promptIds = Buffer.from(Uint8Array.from({ length: 4 * (1 + int(rng, 4)) + 1 + int(rng, 3) }, () => 1)); return m; } },
  {
    category: "logprobs-length-mismatch", kinds: HAS_RESPONSES,
    apply: (rng, k, m) => { const r = pick(rng, groupOf[k](m).responses as Body[]); r.logprobs = bytesOf(new Float32Array((r.tokenIds as Uint8Array).byteLength / 4 + 1 + int(rng, 3))); return m; },
  },
  { category: "group-size-out-of-range", kinds: ["PromptRequest"], apply: (rng, _k, m, b) => { m.groupSize = pick(rng, [0, -1, 1.5, b.groupSize + 1, 1e9]); return m; } },
  { category: "empty-prompt", kinds: ["PromptRequest"], apply: (_rng, _k, m) => { m.promptIds = Buffer.alloc(0); m.promptText = ""; return m; } },
  { category: "too-long-for-context", kinds: ["PromptRequest"], apply: (_rng, _k, m, b) => { m.promptIds = bytesOf(new Int32Array(b.maxPositions).fill(1)); return m; } },
  { category: "sampling-on-stream-prompt", kinds: ["PromptRequest"], apply: (rng, _k, m) => { m.sampling = { temperature: pick(rng, [NaN, -1, 0.7]), topP: 1, topK: 0, maxNewTokens: 0, seed: 0n, stopTokenIds: [] }; return m; } },
  { category: "no-responses", kinds: HAS_RESPONSES, apply: (_rng, k, m) => { groupOf[k](m).responses = []; return m; } },
  {
    category: "more-responses-than-G", kinds: HAS_RESPONSES,
    apply: (_rng, k, m) => {
      const g = groupOf[k](m);
      const rs = g.responses as Body[];
      g.responses = [...rs, ...rs];
      if (k !== "RolloutGroup") { const v = verifiedOf(k, m); v.rewards = [...(v.rewards as number[]), ...(v.rewards as number[])]; v.correct = [...(v.correct as boolean[]), ...(v.correct as boolean[])]; }
      return m;
    },
  },
  { category: "rewards-length-mismatch", kinds: ["VerifiedGroup", "TrainingBatch"], apply: (_rng, k, m) => { const v = verifiedOf(k, m); v.rewards = (v.rewards as number[]).slice(1); return m; } },
  { category: "correct-length-mismatch", kinds: ["VerifiedGroup", "TrainingBatch"], apply: (_rng, k, m) => { const v = verifiedOf(k, m); v.correct = [...(v.correct as boolean[]), true]; return m; } },
  { category: "correct-not-boolean", kinds: ["VerifiedGroup", "TrainingBatch"], apply: (rng, k, m) => { const v = verifiedOf(k, m); (v.correct as unknown[])[0] = pick(rng, [1, "yes", null]); return m; } },
  { category: "empty-batch", kinds: ["TrainingBatch"], apply: (_rng, _k, m) => { m.groups = []; return m; } },
  { category: "dangling-object-ref", kinds: ["TrainingBatch"], apply: (rng, _k, m) => { m.groups = []; m.objectRef = `no-such-batch-${int(rng, 1e9)}`; return m; } },
  // References into LSPO_VERIFIED: to a sequence it does not hold, to a message of another group (sequence 1
  // is the run's first verified group, or a message since deleted), or of the wrong shape.
  { category: "dangling-group-ref", kinds: ["TrainingBatch"], apply: (rng, _k, m) => { m.groups = []; m.groupRefs = [{ uid: "fuzz-ref", seq: BigInt(2 ** 40 + int(rng, 1e6)) }]; return m; } },
  { category: "group-ref-to-another-group", kinds: ["TrainingBatch"], apply: (rng, _k, m) => { m.groups = []; m.groupRefs = [{ uid: `not-the-group-there-${int(rng, 1e9)}`, seq: 1n }]; return m; } },
  { category: "group-ref-wrong-type", kinds: ["TrainingBatch"], apply: (rng, _k, m) => { m.groups = []; m.groupRefs = [pick(rng, [{ uid: 7, seq: 1n }, { uid: "x" }, "x", null, { uid: "x", seq: -1 }])]; return m; } },
  { category: "empty-response", kinds: ["TrainingBatch"], apply: (_rng, k, m) => { const r = (groupOf[k](m).responses as Body[])[0]; r.tokenIds = Buffer.alloc(0); r.logprobs = Buffer.alloc(0); return m; } },
];

// ---- the summary header of a verified group (what the sampler reads) ----

type Summary = Record<string, unknown>;
/** Each returns the header's text, or null for no header at all. */
const SUMMARY_MUTATIONS: Array<{ category: string; apply(rng: Rng, s: Summary, b: RunBounds): string | null }> = [
  { category: "no-summary-header", apply: () => null },
  { category: "summary-not-json", apply: (rng, s) => { const t = JSON.stringify(s); return t.slice(0, int(rng, t.length)); } },
  { category: "summary-not-an-object", apply: (rng) => JSON.stringify(pick(rng, [[], 7, "x", null, true])) },
  { category: "summary-missing-field", apply: (rng, s) => { delete s[pick(rng, ["uid", "lengths", "rewards", "correct", "policyVersion"])]; return JSON.stringify(s); } },
  { category: "summary-wrong-type", apply: (rng, s) => { s[pick(rng, ["uid", "lengths", "rewards", "correct"])] = pick(rng, [null, 42, {}, false]); return JSON.stringify(s); } },
  { category: "summary-empty-uid", apply: (_rng, s) => { s.uid = ""; return JSON.stringify(s); } },
  // JSON has no NaN; 1e999 parses to Infinity.
  { category: "summary-non-finite-reward", apply: (rng, s) => { const r = s.rewards as number[]; return JSON.stringify(s).replace(`"rewards":[${r.join(",")}]`, `"rewards":[${r.map((x, i) => (i === 0 ? pick(rng, ["1e999", "-1e999"]) : String(x))).join(",")}]`); } },
  { category: "summary-bad-length", apply: (rng, s) => { (s.lengths as unknown[])[0] = pick(rng, [-1, 1.5, "3", null]); return JSON.stringify(s); } },
  { category: "summary-rewards-length-mismatch", apply: (_rng, s) => { s.rewards = (s.rewards as number[]).slice(1); return JSON.stringify(s); } },
  { category: "summary-correct-not-boolean", apply: (rng, s) => { (s.correct as unknown[])[0] = pick(rng, [1, "yes", null]); return JSON.stringify(s); } },
  { category: "summary-no-responses", apply: (_rng, s) => { s.lengths = []; s.rewards = []; s.correct = []; return JSON.stringify(s); } },
  { category: "summary-more-responses-than-G", apply: (_rng, s) => { for (const k of ["lengths", "rewards", "correct"]) s[k] = [...(s[k] as unknown[]), ...(s[k] as unknown[])]; return JSON.stringify(s); } },
  { category: "summary-bad-policy-version", apply: (rng, s) => { s.policyVersion = pick(rng, ["-1", "1.5", 5, "abc", "", "123456789012345678901"]); return JSON.stringify(s); } },
  // Over the sampler's bound (16 KB), under NATS's own for headers (64 KB).
  { category: "summary-oversize", apply: (_rng, s) => { s.uid = "x".repeat(20 * 1024); return JSON.stringify(s); } },
];

function malformedSummaries(rng: Rng, bounds: RunBounds, n: number): Malformed[] {
  return Array.from({ length: n }, (_, i) => {
    const mutation = i < SUMMARY_MUTATIONS.length ? SUMMARY_MUTATIONS[i] : pick(rng, SUMMARY_MUTATIONS);
    const body = verified(rng, bounds, `fuzz-VerifiedGroup-${i}`);
    const header = mutation.apply(rng, JSON.parse(summaryHeader(summaryOf(body))) as Summary, bounds);
    return { category: mutation.category, bytes: env("VerifiedGroup", body), ...(header === null ? {} : { headers: { [GROUP_SUMMARY_HEADER]: header } }) };
  });
}

/** `n` malformed payloads for `kind`, mutations drawn in turn (seeded), each from a fresh valid message. */
export function malformed(rng: Rng, kind: Kind, bounds: RunBounds, n: number): Malformed[] {
  if (kind === "VerifiedGroup") return malformedSummaries(rng, bounds, n);
  const mutations = MUTATIONS.filter((m) => m.kinds.includes(kind));
  return Array.from({ length: n }, (_, i) => {
    const mutation = i < mutations.length ? mutations[i] : pick(rng, mutations);
    const body = VALID[kind](rng, bounds, `fuzz-${kind}-${i}`) as Body;
    const out = mutation.apply(rng, kind, body, bounds);
    return { category: mutation.category, bytes: out instanceof Uint8Array ? out : env(kind, out) };
  });
}
