// The wait between two tries of a bus call that failed transiently, shared by the retry loops.

/**
 * Waits out try `attempt`'s backoff (`firstWaitMs`, 50 ms by default, doubling, at most 2 s) and says whether to try
 * again: false, without or after the wait, once `retryWhile` says stop (a stopping service passes
 * `() => !ctx.stopping`, so a stop that begins during the wait ends the retries at its end, not `limit` later).
 */
export async function backedOff(attempt: number, retryWhile?: () => boolean, firstWaitMs = 50): Promise<boolean> {
  if (retryWhile?.() === false) return false;
  await new Promise((r) => setTimeout(r, Math.min(2000, firstWaitMs * 2 ** attempt)));
  return retryWhile?.() !== false;
}
