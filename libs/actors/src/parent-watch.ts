// No orphans: an actor process started by a node agent exits when that agent is gone. An agent killed
// with SIGKILL cannot stop its children, so each child checks that its parent is still the agent
// (LSPO_AGENT_PID; once the parent dies the kernel re-parents the child, and process.ppid changes).

export const PARENT_CHECK_MS = 1000;

/**
 * Watches `process.ppid` against `agentPid`; when they differ, calls `onOrphan` once. Returns the stop
 * function. A process not started by an agent (agentPid undefined) is never watched.
 */
export function watchParent(agentPid: number | undefined, onOrphan: () => void, everyMs = PARENT_CHECK_MS): () => void {
  if (agentPid === undefined) return () => undefined;
  if (!Number.isInteger(agentPid) || agentPid <= 0) throw new Error(`LSPO_AGENT_PID: '${agentPid}' is not a process id`);
  const timer = setInterval(() => {
    if (process.ppid === agentPid) return;
    clearInterval(timer);
    onOrphan();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The agent's pid from LSPO_AGENT_PID, or undefined when this process was not started by an agent. */
export function agentPidFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.LSPO_AGENT_PID;
  return v === undefined || v === "" ? undefined : Number(v);
}

/** The orphan's way out: the process's own SIGTERM path (drain, deregister), then a hard exit if that hangs. */
export function terminateSelf(graceMs = 15_000): void {
  process.stderr.write(`[actor ${process.pid}] its node agent is gone (parent is now ${process.ppid}): shutting down\n`);
  setTimeout(() => process.exit(1), graceMs).unref();
  process.kill(process.pid, "SIGTERM");
}
