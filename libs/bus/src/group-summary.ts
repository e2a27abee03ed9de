// Verified groups travel once. The verifier publishes each VerifiedGroup to LSPO_VERIFIED with its summary
// (uid, lengths, rewards, verdicts, policy version: all the sampler judges by) in the `Lspo-Group` header.
// The sampler's consumer delivers headers only, so the sampler never receives tokens; its batches name
// the kept groups by (uid, stream sequence), and the learner reads those bodies from LSPO_VERIFIED, where
// they stay (a kept stream). A group's bytes cross the bus twice (in, and out to the learner), as on the
// raw JetStream path, instead of four times (in, to the sampler, into a batch, out to the learner).
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import type { GroupRef, GroupSummary, VerifiedGroup } from "@lspo/proto";
import { decodeEnvelope } from "./codec.js";
import { DecodeError } from "./errors.js";
import { validateVerifiedGroup, type Validator } from "./messages.js";
import { publishMessage, type Published } from "./publish.js";
import { STREAMS } from "./subjects.js";

/** The header that carries a verified group's summary, as JSON. */
export const GROUP_SUMMARY_HEADER = "Lspo-Group";

/** What the sampler judges `vg` by: everything but its tokens. */
export function summaryOf(vg: VerifiedGroup): GroupSummary {
  const g = vg.group!;
  return { uid: g.uid, lengths: g.responses.map((r) => r.tokenIds.byteLength / 4), rewards: [...vg.rewards], correct: [...vg.correct], policyVersion: g.policyVersion };
}

/** The summary as the header's text (the policy version as a decimal string: JSON has no uint64). */
export function summaryHeader(s: GroupSummary): string {
  return JSON.stringify({ uid: s.uid, lengths: s.lengths, rewards: s.rewards, correct: s.correct, policyVersion: String(s.policyVersion) });
}

/** Publishes a verified group with its summary header (the verifier; benches and tests that stand in for it). */
export function publishVerified(js: JetStreamClient, subject: string, vg: VerifiedGroup, msgId?: string): Promise<Published> {
  return publishMessage(js, subject, "VerifiedGroup", vg, { msgId, headers: { [GROUP_SUMMARY_HEADER]: summaryHeader(summaryOf(vg)) } });
}

/** NATS headers with the summary of `vg` (for publishers that encode the envelope themselves). */
export function verifiedHeaders(vg: VerifiedGroup): MsgHdrs {
  const h = natsHeaders();
  h.set(GROUP_SUMMARY_HEADER, summaryHeader(summaryOf(vg)));
  return h;
}

const UINT = /^(0|[1-9][0-9]{0,19})$/;
/** A summary's text at most: about 20 characters per response, so room for G in the hundreds. */
export const SUMMARY_MAX_CHARS = 16 * 1024;

/**
 * The summary in a message's headers, checked: a missing header, text that is not JSON, a missing or
 * mistyped field, arrays of different lengths, a non-finite reward or a negative length each throw a
 * DecodeError that names it (`maxBytes` bounds the header's text).
 */
export function parseGroupSummary(h: MsgHdrs | undefined, maxBytes = SUMMARY_MAX_CHARS): GroupSummary {
  const text = h?.get(GROUP_SUMMARY_HEADER) ?? "";
  if (!text) throw new DecodeError("invalid", `VerifiedGroup message has no ${GROUP_SUMMARY_HEADER} header (the verifier writes the group's summary there)`);
  if (text.length > maxBytes) throw new DecodeError("oversize", `${GROUP_SUMMARY_HEADER} header is ${text.length} characters, over ${maxBytes}`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new DecodeError("invalid", `${GROUP_SUMMARY_HEADER} header is not JSON: ${(err as Error).message}`);
  }
  const problem = summaryProblem(o);
  if (problem) throw new DecodeError("invalid", `${GROUP_SUMMARY_HEADER} header: ${problem}`);
  return { uid: o.uid as string, lengths: o.lengths as number[], rewards: o.rewards as number[], correct: o.correct as boolean[], policyVersion: BigInt(o.policyVersion as string) };
}

function summaryProblem(o: unknown): string | null {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return "is not a JSON object";
  const s = o as Record<string, unknown>;
  if (typeof s.uid !== "string" || !s.uid) return "uid should be a non-empty string";
  for (const k of ["lengths", "rewards", "correct"]) if (!Array.isArray(s[k])) return `${k} should be an array`;
  const lengths = s.lengths as unknown[];
  const rewards = s.rewards as unknown[];
  const correct = s.correct as unknown[];
  if (lengths.length === 0) return "lengths is empty";
  if (rewards.length !== lengths.length) return `rewards has ${rewards.length} entries for ${lengths.length} responses`;
  if (correct.length !== lengths.length) return `correct has ${correct.length} entries for ${lengths.length} responses`;
  for (let i = 0; i < lengths.length; i++) {
    const L = lengths[i];
    if (typeof L !== "number" || !Number.isInteger(L) || L < 0) return `lengths[${i}] should be an integer >= 0, got ${JSON.stringify(L)}`;
    if (typeof rewards[i] !== "number" || !Number.isFinite(rewards[i])) return `rewards[${i}] is not a finite number`;
    if (typeof correct[i] !== "boolean") return `correct[${i}] should be boolean, got ${JSON.stringify(correct[i])}`;
  }
  if (typeof s.policyVersion !== "string" || !UINT.test(s.policyVersion)) return `policyVersion should be a decimal uint64 string, got ${JSON.stringify(s.policyVersion)}`;
  return null;
}

/** How the summary the sampler judged differs from the body the learner trains on, or null. */
export function summaryMismatch(s: GroupSummary, vg: VerifiedGroup): string | null {
  const b = summaryOf(vg);
  for (const k of ["uid", "lengths", "rewards", "correct"] as const) {
    if (JSON.stringify(b[k]) !== JSON.stringify(s[k])) return `its ${k} differ between the ${GROUP_SUMMARY_HEADER} header and the body`;
  }
  if (b.policyVersion !== BigInt(s.policyVersion)) return `its policyVersion differs between the ${GROUP_SUMMARY_HEADER} header (${s.policyVersion}) and the body (${b.policyVersion})`;
  return null;
}

/** A referenced group as read from LSPO_VERIFIED: its summary header (checked) and its envelope, undecoded. */
export interface FetchedGroup {
  where: string;
  summary: GroupSummary;
  data: Uint8Array;
}

/**
 * The messages a batch names, read from LSPO_VERIFIED by sequence (direct gets, in parallel), in the refs'
 * order, each checked by its summary header: a reference to nothing or to another group throws a
 * DecodeError naming the ref; a server that cannot answer throws its own error, with the sequence (the
 * caller retries).
 */
export async function fetchGroupRefs(jsm: JetStreamManager, refs: readonly GroupRef[]): Promise<FetchedGroup[]> {
  const wheres = refs.map((ref, i) => `TrainingBatch.groupRefs[${i}] (uid ${ref.uid}, LSPO_VERIFIED sequence ${ref.seq})`);
  // A sequence no stream can hold is the batch's fault, not a request to send (the server would refuse it,
  // and a number past 2^53 would name another message).
  refs.forEach((ref, i) => {
    const seq = BigInt(ref.seq);
    if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError("invalid", `${wheres[i]}: not a stream sequence (1 to 2^53 - 1)`);
  });
  const messages = await Promise.all(refs.map((r) => jsm.direct.getMessage(STREAMS.verified.name, { seq: Number(r.seq) }).catch((err: Error) => {
    throw new Error(`reading LSPO_VERIFIED sequence ${r.seq} (group ${r.uid}): ${err.message}`, { cause: err });
  })));
  return refs.map((ref, i) => {
    const where = wheres[i];
    const m = messages[i];
    if (!m) throw new DecodeError("invalid", `${where}: LSPO_VERIFIED holds no message at that sequence (deleted, or aged out under bus.verifiedMaxAgeS / verifiedMaxBytes)`);
    let summary: GroupSummary;
    try {
      summary = parseGroupSummary(m.header);
    } catch (err) {
      throw new DecodeError("invalid", `${where}: ${(err as Error).message}`);
    }
    if (summary.uid !== ref.uid) throw new DecodeError("invalid", `${where}: the message there is group ${summary.uid}`);
    return { where, summary, data: m.data };
  });
}

/** Decodes fetched groups and checks each body, and that it is what its summary (the sampler judged) says. */
export function decodeFetched(fetched: readonly FetchedGroup[], opts: { maxBytes?: number; validate?: Validator } = {}): VerifiedGroup[] {
  return fetched.map(({ where, summary, data }) => {
    let vg: VerifiedGroup;
    try {
      vg = decodeEnvelope(data, "VerifiedGroup", opts.maxBytes).body as VerifiedGroup;
    } catch (err) {
      throw new DecodeError(err instanceof DecodeError ? err.failure : "invalid", `${where}: ${(err as Error).message}`);
    }
    const problem = validateVerifiedGroup(vg) ?? opts.validate?.(vg) ?? null;
    if (problem) throw new DecodeError("invalid", `${where}: ${problem}`);
    const mismatch = summaryMismatch(summary, vg);
    if (mismatch) throw new DecodeError("invalid", `${where}: ${mismatch} (the sampler judged the header)`);
    return vg;
  });
}

/** The bodies a batch names (fetchGroupRefs, then decodeFetched): what the learner trains on. */
export async function resolveGroupRefs(jsm: JetStreamManager, refs: readonly GroupRef[], opts: { maxBytes?: number; validate?: Validator } = {}): Promise<VerifiedGroup[]> {
  return decodeFetched(await fetchGroupRefs(jsm, refs), opts);
}
