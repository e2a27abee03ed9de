// A private `nats-server -js` process: used by tests (one per suite, random loopback port, temporary store)
// and by `lspo train` when no `nats.url` is configured (the embedded server). Stopped by PID; the store
// survives `restart()` so JetStream's file storage can be tested across a server restart.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NatsServerError } from "./errors.js";

export interface NatsServerOptions {
  /** Directory for JetStream file storage; a fresh temporary one (removed on stop) when omitted. */
  storeDir?: string;
  /** 0 (default) = a random free port chosen by the server. */
  port?: number;
  /** Interface to listen on: loopback by default (one machine: `lspo train`, tests); "0.0.0.0" lets
   *  agents on other hosts connect (then secure it: `config` can carry an authorization block). */
  host?: string;
  /** Extra server configuration (NATS config syntax), e.g. an `authorization {}` or `accounts {}` block. */
  config?: string;
  /** Max payload in bytes (server default 1 MB). */
  maxPayload?: number;
  startTimeoutMs?: number;
  /**
   * The server gets SIGTERM when this process dies, even by SIGKILL (Linux: util-linux `setpriv --pdeathsig`,
   * where it is installed), so an embedded server never outlives the controller that started it. Only from
   * the main thread: the signal follows the thread that started the server.
   */
  dieWithParent?: boolean;
}

export interface NatsServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly storeDir: string;
  /** SIGTERM, wait for exit; removes the store when it was temporary. */
  stop(): Promise<void>;
  /** Stop (SIGTERM, or SIGKILL: a crash) and start again on the same port with the same store (nothing
   *  acknowledged may be lost); with `wipeStore`, with the store lost (it comes back empty). */
  restart(signal?: "SIGTERM" | "SIGKILL", opts?: { wipeStore?: boolean }): Promise<void>;
  /** SIGKILL without cleanup of the store (for fault-injection tests). */
  kill(): Promise<void>;
}

// Servers this process started: killed when it exits, so a crashed test never leaves one behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export function findNatsServerBinary(): string {
  const fromEnv = process.env.LSPO_NATS_SERVER;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new NatsServerError(`LSPO_NATS_SERVER=${fromEnv} does not exist`);
    return fromEnv;
  }
  for (const candidate of ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync("sh", ["-c", "command -v nats-server"], { encoding: "utf8" });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new NatsServerError(
    "nats-server not found on PATH. Install it (Debian/Ubuntu: apt-get install nats-server) or set LSPO_NATS_SERVER=/path/to/nats-server",
  );
}

const LISTEN_RE = /Listening for client connections on [^\s]*:(\d+)/;

const SETPRIV = "/usr/bin/setpriv";

async function launch(bin: string, confPath: string, timeoutMs: number, dieWithParent = false): Promise<{ child: ChildProcess; port: number }> {
  // setpriv sets the parent-death signal and execs the server: the child's pid is the server's.
  const [command, args] = dieWithParent && existsSync(SETPRIV) ? [SETPRIV, ["--pdeathsig", "TERM", "--", bin, "-c", confPath]] : [bin, ["-c", confPath]];
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    let port = 0;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new NatsServerError(`nats-server did not become ready within ${timeoutMs} ms. Its log:\n${log}`));
    }, timeoutMs);
    child.stderr!.setEncoding("utf8");
    const onData = (chunk: string) => {
      log += chunk;
      const m = LISTEN_RE.exec(log);
      if (m) port = Number(m[1]);
      if (port && log.includes("Server is ready")) {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        child.stderr!.resume(); // keep draining so the server never blocks on a full pipe
        resolve({ child, port });
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new NatsServerError(`nats-server exited during start (code ${code}, signal ${signal}). Its log:\n${log}`));
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new NatsServerError(`could not start ${bin}: ${err.message}`));
    });
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = findNatsServerBinary();
  const workDir = mkdtempSync(join(tmpdir(), "lspo-nats-"));
  const storeDir = opts.storeDir ?? join(workDir, "jetstream");
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const confPath = join(workDir, "nats.conf");
  const listenHost = opts.host ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:_-]+$/.test(listenHost)) throw new NatsServerError(`nats-server host '${listenHost}' is not a host name or IP address`);
  // Clients on this machine dial loopback even when the server listens on every interface.
  const dialHost = listenHost === "0.0.0.0" || listenHost === "::" ? "127.0.0.1" : listenHost;
  const writeConf = (port: number) =>
    writeFileSync(
      confPath,
      [
        `listen: "${listenHost}:${port === 0 ? -1 : port}"`,
        opts.maxPayload ? `max_payload: ${opts.maxPayload}` : "",
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        opts.config ?? "",
      ].join("\n"),
    );
  writeConf(opts.port ?? 0);
  let { child, port } = await launch(bin, confPath, timeoutMs, opts.dieWithParent);
  live.add(child);
  writeConf(port); // a restart must come back on the same port so clients reconnect

  const server: NatsServer = {
    get url() {
      return `nats://${dialHost.includes(":") ? `[${dialHost}]` : dialHost}:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child.pid ?? -1;
    },
    storeDir,
    async stop() {
      child.kill("SIGTERM");
      await waitExit(child);
      live.delete(child);
      // The temporary store lives inside workDir; a caller-supplied store is the caller's to keep.
      rmSync(workDir, { recursive: true, force: true });
    },
    async kill() {
      child.kill("SIGKILL");
      await waitExit(child);
    },
    async restart(signal = "SIGTERM", restartOpts = {}) {
      child.kill(signal);
      await waitExit(child);
      live.delete(child);
      // The store lost with the server (a pod on an emptyDir): it comes back empty.
      if (restartOpts.wipeStore) rmSync(storeDir, { recursive: true, force: true });
      ({ child, port } = await launch(bin, confPath, timeoutMs, opts.dieWithParent));
      live.add(child);
    },
    async [Symbol.asyncDispose]() {
      await server.stop();
    },
  };
  return server;
}
