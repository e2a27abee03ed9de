// Client checks run inside a host's namespace: the test driver lives in the machine's own namespace and
// cannot reach the cluster's subnet (on purpose), so it starts this script on a host with
// `ip netns exec` (nats-cluster.ts: runProbe) and reads one JSON line from its stdout.
//
//   probe.ts tcp <host> <port> <timeoutMs>               → {ok}
//   probe.ts meta <timeoutMs> <host>...                  → {leader, clusterSize} once every server agrees
//   probe.ts stream <url> <name> <subject> <replicas>    → {leader, replicas}
//   probe.ts stream-current <url> <name> <timeoutMs>     → {leader, replicas} once every replica is current
//   probe.ts publish <url> <subject> <from> <to>         → {published, retries}
//   probe.ts consume <url> <stream> <durable> <count> <timeoutMs> → {ids, extra}
//   probe.ts replicas <url>                              → {streams: {name: replicas}} (KV and object stores are streams too)
//   probe.ts actors <url> <runId>                        → {actors: [{name, kind, node, state, live}]}
//   probe.ts await-actors <url> <runId> <kind> <hosts,…> <count> <timeoutMs> <sinceEpochMs>
//                                                        → {count, atMs, afterS}: when `count` actors of `kind`
//                                                          first ran on those hosts (atMs null: never)
import { connect as netConnect } from "node:net";
import { connectBus, jetstream, jetstreamManager, type NatsConnection } from "@lspo/bus";
import { AckPolicy } from "@nats-io/jetstream";
import { ActorRegistry, STALE_AFTER_MS } from "@lspo/actors";
import { ComponentState } from "@lspo/proto";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcp(host: string, port: number, timeoutMs: number): Promise<{ ok: boolean; reason?: string }> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port, timeout: timeoutMs });
    s.once("connect", () => (s.destroy(), resolve({ ok: true })));
    s.once("timeout", () => (s.destroy(), resolve({ ok: false, reason: "timeout" })));
    s.once("error", (e) => resolve({ ok: false, reason: e.message }));
  });
}

/** Polls each server's monitoring endpoint until all name the same JetStream meta leader. */
async function meta(timeoutMs: number, hosts: string[]) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const views = await Promise.all(
        hosts.map(async (h) => ((await (await fetch(`http://${h}:8222/jsz`, { signal: AbortSignal.timeout(2000) })).json()) as { meta_cluster?: { leader?: string; cluster_size?: number } }).meta_cluster),
      );
      const leaders = new Set(views.map((v) => v?.leader ?? ""));
      last = JSON.stringify(views);
      if (leaders.size === 1 && !leaders.has("") && views.every((v) => v?.cluster_size === hosts.length)) {
        return { leader: [...leaders][0], clusterSize: views[0]!.cluster_size };
      }
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(300);
  }
  throw new Error(`no JetStream meta leader agreed by ${hosts.join(", ")} within ${timeoutMs} ms; last: ${last}`);
}

async function withBus<T>(url: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connectBus({ url, name: "cluster-probe", timeoutMs: 10_000 });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

async function streamInfo(nc: NatsConnection, name: string) {
  const si = await (await jetstreamManager(nc)).streams.info(name);
  return { leader: si.cluster?.leader ?? "", replicas: (si.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, offline: r.offline ?? false })) };
}

/** Publishes m-<i> for i in [from, to), each retried until JetStream acknowledges it: a publish that timed
 *  out while a server died may have been stored, and the retry under the same message id is then dropped
 *  as a duplicate, so every id is stored exactly once. */
async function publish(nc: NatsConnection, subject: string, from: number, to: number) {
  const js = jetstream(nc, { timeout: 3000 });
  let retries = 0;
  for (let i = from; i < to; i++) {
    for (;;) {
      try {
        await js.publish(subject, new TextEncoder().encode(String(i)), { msgID: `m-${i}` });
        break;
      } catch {
        retries++;
        if (retries > 200) throw new Error(`publish m-${i}: no acknowledgement after ${retries} retries`);
        await sleep(250);
      }
    }
  }
  return { published: to - from, retries };
}

async function consume(nc: NatsConnection, stream: string, durable: string, count: number, timeoutMs: number) {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  const c = await jetstream(nc).consumers.get(stream, durable);
  const ids: number[] = [];
  const deadline = Date.now() + timeoutMs;
  while (ids.length < count && Date.now() < deadline) {
    const batch = await c.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) {
      ids.push(Number(new TextDecoder().decode(m.data)));
      await m.ackAck();
    }
  }
  // Anything after the expected count would be a duplicate or a stray: one more short fetch must be empty.
  let extra = 0;
  for await (const m of await c.fetch({ max_messages: 10, expires: 1500 })) {
    extra++;
    m.ack();
  }
  return { ids, extra };
}

/**
 * Watches one run's registry until `count` actors of `kind` run on `hosts`, polling the open view every
 * 250 ms, so the time it reports is the moment they ran (give or take a heartbeat), not a poller's
 * cadence. An actor counts once a revision of its record arrived after the watch began (its process wrote
 * it, or its agent heartbeat it) and its state is RUNNING: a record found already there may be a dead
 * writer's last word. `sinceEpochMs` is the fault's wall-clock time; afterS is measured from it.
 */
async function awaitActors(nc: NatsConnection, runId: string, kind: string, hosts: string[], count: number, timeoutMs: number, sinceEpochMs: number) {
  const registry = await ActorRegistry.open(nc, { runId });
  try {
    const view = await registry.view();
    const opened = performance.now();
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      const now = performance.now();
      seen = view
        .actors()
        .filter((e) => e.record.kind === kind && hosts.includes(e.record.node) && e.record.state === ComponentState.COMPONENT_STATE_RUNNING && e.arrivedAt > opened && view.isLive(e, now)).length;
      if (seen >= count) {
        const atMs = Date.now();
        return { count: seen, atMs, afterS: (atMs - sinceEpochMs) / 1000 };
      }
      if (Date.now() > deadline) return { count: seen, atMs: null, afterS: null };
      await sleep(250);
    }
  } finally {
    registry.close();
  }
}

async function main(argv: string[]): Promise<unknown> {
  const [op, ...a] = argv;
  switch (op) {
    case "tcp":
      return tcp(a[0], Number(a[1]), Number(a[2]));
    case "meta":
      return meta(Number(a[0]), a.slice(1));
    case "stream":
      return withBus(a[0], async (nc) => {
        await (await jetstreamManager(nc)).streams.add({ name: a[1], subjects: [a[2]], num_replicas: Number(a[3]), duplicate_window: 120_000_000_000 });
        return streamInfo(nc, a[1]);
      });
    case "stream-current":
      return withBus(a[0], async (nc) => {
        const deadline = Date.now() + Number(a[2]);
        for (;;) {
          const info = await streamInfo(nc, a[1]).catch(() => null);
          if (info && info.leader && info.replicas.every((r) => r.current && !r.offline)) return info;
          if (Date.now() > deadline) throw new Error(`stream ${a[1]} not current within ${a[2]} ms: ${JSON.stringify(info)}`);
          await sleep(300);
        }
      });
    case "publish":
      return withBus(a[0], (nc) => publish(nc, a[1], Number(a[2]), Number(a[3])));
    case "consume":
      return withBus(a[0], (nc) => consume(nc, a[1], a[2], Number(a[3]), Number(a[4])));
    case "replicas":
      return withBus(a[0], async (nc) => {
        const streams: Record<string, number> = {};
        for await (const si of (await jetstreamManager(nc)).streams.list()) streams[si.config.name] = si.config.num_replicas;
        return { streams };
      });
    case "actors":
      // One run's actors, with liveness as this reader sees it: a record that got no new revision within
      // STALE_AFTER_MS of watching is not live (the runtime's rule; no writer's clock involved).
      return withBus(a[0], async (nc) => {
        const registry = await ActorRegistry.open(nc, { runId: a[1] });
        const view = await registry.view();
        await sleep(STALE_AFTER_MS + 500);
        const actors = view.actors().map((e) => ({ name: e.record.name, kind: e.record.kind, node: e.record.node, state: e.record.state, live: view.isLive(e) }));
        registry.close();
        return { actors };
      });
    case "await-actors":
      return withBus(a[0], (nc) => awaitActors(nc, a[1], a[2], a[3].split(","), Number(a[4]), Number(a[5]), Number(a[6])));
    default:
      throw new Error(`probe: unknown op '${op}'`);
  }
}

main(process.argv.slice(2)).then(
  (r) => {
    process.stdout.write(JSON.stringify(r) + "\n");
    process.exit(0);
  },
  (e) => {
    process.stdout.write(JSON.stringify({ error: (e as Error).message }) + "\n");
    process.exit(1);
  },
);
