// Every cluster registers its teardown here; it runs on a normal exit, on SIGINT/SIGTERM/SIGHUP (Ctrl-C on
// the runner or on vitest), and, where the caller opts in, on an uncaught error. Teardowns are synchronous
// (see ip.ts) and each runs at most once.
type Teardown = () => void;

const pending = new Set<Teardown>();
let installed = false;

export function registerCleanup(fn: Teardown): () => void {
  install();
  pending.add(fn);
  return () => pending.delete(fn);
}

/** Runs every registered teardown now (newest first); errors are reported, never thrown. */
export function runCleanups(): void {
  for (const fn of [...pending].reverse()) {
    pending.delete(fn);
    try {
      fn();
    } catch (e) {
      process.stderr.write(`[cluster] teardown failed: ${(e as Error).message}\n`);
    }
  }
}

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runCleanups);
  for (const [sig, code] of Object.entries(SIGNAL_EXIT) as Array<[NodeJS.Signals, number]>) {
    process.on(sig, () => {
      if (pending.size) process.stderr.write(`[cluster] ${sig}: tearing down\n`);
      runCleanups();
      process.exit(code);
    });
  }
}

/** For a standalone driver (the runner): an uncaught error tears down before the process dies. Not used
 *  inside vitest, which reports uncaught errors itself (and its worker's `exit` still tears down). */
export function cleanupOnUncaught(): void {
  install();
  const die = (e: unknown) => {
    process.stderr.write(`[cluster] uncaught: ${(e as Error)?.stack ?? String(e)}\n`);
    runCleanups();
    process.exit(1);
  };
  process.on("uncaughtException", die);
  process.on("unhandledRejection", die);
}
