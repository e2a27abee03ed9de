// Which skipped tests CI refuses: a skip means a check that silently did not happen on the machine that
// decides whether a change lands, so under CI only files on the allow-list may skip.

/** Files whose skips are expected anywhere but on their own hardware: the GPU lane (LSPO_GPU_PROVIDER). */
export const SKIP_ALLOWED = [/\.gpu\.test\.ts$/];

/** The skipped tests ({file, test, reason}) that no allow-list pattern covers. */
export function unexpectedSkips(skipped, allowed = SKIP_ALLOWED) {
  return skipped.filter((s) => !allowed.some((re) => re.test(s.file)));
}
