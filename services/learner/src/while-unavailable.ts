// Retrying a read while the server cannot answer: a NATS restart or a leader election makes requests time out
// or find no responders for a few seconds, which is no fault of the message being read. A DecodeError is
// the message's fault and is thrown at once; anything else is retried with backoff until `limitMs` has passed,
// then thrown (the caller ends its loop and the process restarts).
import { DecodeError } from "@lspo/bus";

export const UNAVAILABLE_RETRY_MS = 60_000;

export async function whileUnavailable<T>(read: () => Promise<T>, limitMs = UNAVAILABLE_RETRY_MS, firstWaitMs = 100): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let wait = firstWaitMs; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await read();
    } catch (err) {
      if (err instanceof DecodeError || Date.now() + wait > deadline) throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
