// Connecting to NATS with the options every service and the CLI share (URL, user/password or token,
// TLS), read from explicit options or the LSPO_NATS_* environment. Secrets may come from files so they
// never sit in a config file or a process listing.
import { readFileSync } from "node:fs";
import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface BusOptions {
  /** One server, or a comma-separated list of a cluster's servers (`nats://a:4222,nats://b:4222`): the
   *  client tries them in turn and fails over to another when the one it is on goes away. */
  url: string;
  user?: string;
  password?: string;
  token?: string;
  /** CA bundle (PEM path) to verify the server; enables TLS. */
  tlsCa?: string;
  /** Client certificate + key (PEM paths) for mutual TLS. */
  tlsCert?: string;
  tlsKey?: string;
  name?: string;
  /** How long the first connection may take (the client's default: 20 s). */
  timeoutMs?: number;
  /**
   * Keep trying the first connection this long while the server is unreachable (refused, not resolvable,
   * timed out): in a cluster, pods start before NATS is up, and a process that exits on the first refusal
   * only restarts to try again. Credentials refused fail at once. 0 (default): one try.
   */
  waitForServerMs?: number;
}

function secret(value: string | undefined, file: string | undefined): string | undefined {
  if (value) return value;
  if (file) return readFileSync(file, "utf8").trim();
  return undefined;
}

/** Options from the environment: LSPO_NATS_URL, _USER, _PASSWORD(_FILE), _TOKEN(_FILE), _TLS_CA, _TLS_CERT, _TLS_KEY. */
export function busOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<BusOptions> {
  const out: Partial<BusOptions> = {};
  if (env.LSPO_NATS_URL) out.url = env.LSPO_NATS_URL;
  if (env.LSPO_NATS_USER) out.user = env.LSPO_NATS_USER;
  const password = secret(env.LSPO_NATS_PASSWORD, env.LSPO_NATS_PASSWORD_FILE);
  if (password) out.password = password;
  const token = secret(env.LSPO_NATS_TOKEN, env.LSPO_NATS_TOKEN_FILE);
  if (token) out.token = token;
  if (env.LSPO_NATS_TLS_CA) out.tlsCa = env.LSPO_NATS_TLS_CA;
  if (env.LSPO_NATS_TLS_CERT) out.tlsCert = env.LSPO_NATS_TLS_CERT;
  if (env.LSPO_NATS_TLS_KEY) out.tlsKey = env.LSPO_NATS_TLS_KEY;
  if (env.LSPO_NATS_WAIT_S) {
    const s = Number(env.LSPO_NATS_WAIT_S);
    if (!Number.isFinite(s) || s < 0) throw new Error(`LSPO_NATS_WAIT_S must be a number of seconds >= 0, got '${env.LSPO_NATS_WAIT_S}'`);
    out.waitForServerMs = s * 1000;
  }
  return out;
}

/** The server list of a `url` option: the client takes an array, so a comma list is split (a single URL with
 *  a comma would otherwise be parsed as one malformed host). */
export function serverList(url: string): string[] {
  return url.split(",").map((s) => s.trim()).filter(Boolean);
}

/** A first-connection failure worth retrying: the server is not there (yet), not a refusal of who we are. */
function unreachable(err: unknown): boolean {
  const text = `${(err as { code?: string }).code ?? ""} ${(err as Error).message ?? ""}`;
  return /refused|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|timeout|timed out/i.test(text);
}

export async function connectBus(opts: BusOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.waitForServerMs ?? 0);
  let warned = false;
  for (;;) {
    try {
      return await connectOnce(opts);
    } catch (err) {
      if (!unreachable(err) || Date.now() >= deadline) throw err;
      if (!warned) process.stderr.write(`[${opts.name ?? "lspo"}] NATS at ${opts.url} not reachable yet (${(err as Error).message}); retrying for up to ${Math.round((deadline - Date.now()) / 1000)} s\n`);
      warned = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function connectOnce(opts: BusOptions): Promise<NatsConnection> {
  const tls =
    opts.tlsCa || opts.tlsCert
      ? { caFile: opts.tlsCa, certFile: opts.tlsCert, keyFile: opts.tlsKey }
      : undefined;
  return connect({
    servers: serverList(opts.url),
    user: opts.user,
    pass: opts.password,
    token: opts.token,
    tls,
    name: opts.name,
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    // Services outlive NATS restarts: keep reconnecting, buffered publishes flush on reconnect.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
}
