// A nats-server started from the configuration we ship (deploy/nats/), on a random loopback port with a
// temporary store, with the users' passwords in its environment as Kubernetes/compose would provide them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const USERS = ["rollout", "verifier", "sampler", "learner", "controller", "operator"] as const;
export type User = (typeof USERS)[number];

export interface ShippedNats {
  url: string;
  passwords: Record<User, string>;
  /** What the server logged so far (permission violations among it). */
  log(): string;
  stop(): Promise<void>;
}

function binary(): string {
  if (process.env.LSPO_NATS_SERVER) return process.env.LSPO_NATS_SERVER;
  for (const p of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) if (existsSync(p)) return p;
  const which = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error("nats-server not found (npm test's bootstrap installs it; or set LSPO_NATS_SERVER)");
}

/** deploy/nats/nats.conf with only the addresses and the store directory changed for a test. */
export async function startShippedNats(root: string): Promise<ShippedNats> {
  const dir = mkdtempSync(join(tmpdir(), "lspo-nats-perm-"));
  const conf = readFileSync(join(root, "deploy/nats/nats.conf"), "utf8");
  const local = conf
    .replace(/^listen: .*$/m, "listen: 127.0.0.1:-1")
    .replace(/^http: .*$/m, "")
    .replace(/store_dir: .*$/m, `store_dir: "${join(dir, "js")}"`);
  for (const [from, to] of [["listen: 127.0.0.1:-1", "listen"], [join(dir, "js"), "store_dir"]]) {
    if (!local.includes(from)) throw new Error(`deploy/nats/nats.conf has no ${to} line to point at the test's`);
  }
  writeFileSync(join(dir, "nats.conf"), local);
  copyFileSync(join(root, "deploy/nats/accounts.conf"), join(dir, "accounts.conf"));
  const passwords = Object.fromEntries(USERS.map((u) => [u, `p${u}${Math.random().toString(16).slice(2)}`])) as Record<User, string>;
  const env = { ...process.env };
  for (const u of USERS) env[`LSPO_NATS_${u.toUpperCase()}_PASSWORD`] = passwords[u];
  const child: ChildProcess = spawn(binary(), ["-c", join(dir, "nats.conf")], { env, stdio: ["ignore", "ignore", "pipe"] });
  let all = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (all += chunk));
  const port = await new Promise<number>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${log}`)), 15_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      log += chunk;
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (m && log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => reject(new Error(`nats-server exited (${code}):\n${log}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    passwords,
    log: () => all,
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
