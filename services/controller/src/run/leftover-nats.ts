// The single-host run's embedded nats-server is a child of its controller, but a controller killed outright
// (SIGKILL, the kernel's OOM killer) cannot take it along: the server runs on, holding the run dir's store. A
// resume must not start a second server on that store, so it stops the first: the pid run.json recorded,
// checked in /proc to be a nats-server whose config names this store (a pid reused since by another process
// is left alone; where /proc cannot be read nothing is stopped).
import { readFileSync } from "node:fs";

const alive = (pid: number) => {
  try {
    readFileSync(`/proc/${pid}/cmdline`);
    return true;
  } catch {
    return false;
  }
};

/** The embedded nats-server `pid` if it still runs on `storeDir`, else null. */
export function leftoverNats(pid: number | undefined, storeDir: string): number | null {
  if (!pid) return null;
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!args[0].endsWith("nats-server") || args[1] !== "-c") return null;
    return readFileSync(args[2], "utf8").includes(JSON.stringify(storeDir)) ? pid : null;
  } catch {
    return null;
  }
}

/** Stops that server (SIGTERM, so it closes its store; SIGKILL after `graceMs`); true if there was one. */
export async function stopLeftoverNats(pid: number | undefined, storeDir: string, graceMs = 15_000): Promise<boolean> {
  const server = leftoverNats(pid, storeDir);
  if (server === null) return false;
  process.kill(server, "SIGTERM");
  const end = Date.now() + graceMs;
  while (alive(server) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive(server)) process.kill(server, "SIGKILL");
  while (alive(server)) await new Promise((r) => setTimeout(r, 50));
  return true;
}
