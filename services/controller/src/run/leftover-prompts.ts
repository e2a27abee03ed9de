// A finished run's prompts that no rollout actor took: the controller reads their uids (the ledger records them
// as cancelled) and removes them from LSPO_PROMPTS, which all runs share.
//
// Each one is deleted by its sequence, not purged by the run's subject: nats-server 2.9.10 does not take a purge
// by subject filter off the account's JetStream storage usage (the stream empties, the account's usage stays;
// docs/RELIABILITY.md), so every run would leave its leftover prompts' bytes counted against the account for
// good. Deleting what was read also removes exactly what the ledger counts: a prompt that appeared after the
// read would have been purged uncounted.
import { STREAMS, decodeEnvelope, nextOnSubject, retryTransient, type JetStreamManager } from "@lspo/bus";
import type { PromptRequest } from "@lspo/proto";

export interface LeftoverPrompts {
  /** The uids of the run's prompts that were still in the stream (a malformed prompt has none). */
  uids: string[];
  /** Messages deleted: every prompt of the run that was read, malformed ones too. */
  deleted: number;
}

/** Reads the prompts still on `subject` (in stream order) and deletes each one. */
export async function takeLeftoverPrompts(jsm: JetStreamManager, subject: string): Promise<LeftoverPrompts> {
  const uids: string[] = [];
  let deleted = 0;
  // A work queue allows no second consumer: the run's messages are walked by subject with direct reads (each
  // retried while a server restarts, as the run's end should not fail on one).
  for (let seq = 1; ; ) {
    const m = await retryTransient(() => nextOnSubject(jsm, STREAMS.prompts.name, subject, seq));
    if (!m) break;
    seq = m.seq + 1;
    try {
      const uid = (decodeEnvelope(m.data, "PromptRequest").body as PromptRequest).uid;
      if (typeof uid === "string") uids.push(uid);
    } catch {
      // A malformed prompt has no uid to account for; the ledger counts by the uids the controller requested.
    }
    // false: no overwrite of the bytes on disk (erase), which a plain removal does not need. A message gone
    // meanwhile (taken by an actor still acking) is not an error.
    if (await jsm.streams.deleteMessage(STREAMS.prompts.name, m.seq, false).catch(() => false)) deleted++;
  }
  return { uids, deleted };
}
