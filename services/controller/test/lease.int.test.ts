// The run's controller lease (lease.ts) on a real nats-server, with a short heartbeat: a second controller is
// refused while the first renews, takes over one that went silent, and takes a released lease at once; a
// holder whose lease another took stands down, and one whose own write's reply was lost does not. A holder cut
// off from NATS (its connection through a proxy that stops forwarding) stops counting itself fresh before
// anyone could take the run over.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KV_BUCKETS, connectBus, encodeEnvelope, jetstreamManager, openKv, startLocalBus, type LocalBus, type NatsConnection } from "@lspo/bus";
import { compareTokens } from "@lspo/actors";
import { ControllerLease, ControllerLeaseHeld, ControllerLeaseUnrenewed, ControllerSuperseded, RunStoreLost } from "../src/run/lease.js";
import { startBlackHoleProxy, type BlackHoleProxy } from "./support/black-hole-proxy.js";

const timing = { heartbeatMs: 100, staleAfterMs: 400 };
let bus: LocalBus;
let kv: Awaited<ReturnType<typeof openKv>>;
const leases: ControllerLease[] = [];
const acquire = async (run: string) => {
  const lease = await ControllerLease.acquire(kv, run, timing);
  leases.push(lease);
  return lease;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  bus = await startLocalBus();
  kv = await openKv(bus.nc, KV_BUCKETS.sampler);
});
afterAll(async () => {
  for (const l of leases) await l.release();
  await bus?.stop();
});

/** A lease held over a connection of its own, through a proxy the test can cut. */
async function cutOffable(run: string): Promise<{ lease: ControllerLease; proxy: BlackHoleProxy; nc: NatsConnection; close(): Promise<void> }> {
  const proxy = await startBlackHoleProxy(bus.server.port);
  const nc = await connectBus({ url: `nats://127.0.0.1:${proxy.port}`, name: `lease-${run}` });
  const lease = await ControllerLease.acquire(await openKv(nc, KV_BUCKETS.sampler), run, timing);
  return {
    lease, proxy, nc,
    async close() {
      proxy.restore();
      await lease.release();
      await nc.close();
      await proxy.close();
    },
  };
}

describe("controller lease", () => {
  it("a second controller is refused while the first renews its lease, naming it", async () => {
    const first = await acquire("held");
    const t0 = performance.now();
    const err = await ControllerLease.acquire(kv, "held", timing).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ControllerLeaseHeld);
    expect((err as Error).message).toMatch(new RegExp(`run 'held' has a live controller \\(pid ${process.pid} on .+, started ${first.holder.startedAt}\\)`));
    expect(performance.now() - t0).toBeLessThan(timing.staleAfterMs + 200); // refused as soon as it saw a renewal
    first.check(); // the holder is untouched
  });

  it("a holder gone silent is taken over once its key stays unchanged through the window", async () => {
    // A controller killed: its last lease record stays, never renewed.
    await kv.put("silent.controller", encodeEnvelope("ControllerLease", { pid: 1, host: "gone", startedAt: "then", incarnation: "dead" }));
    const t0 = performance.now();
    const lease = await acquire("silent");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(timing.staleAfterMs);
    expect(lease.holder.incarnation).not.toBe("dead");
    await sleep(3 * timing.heartbeatMs);
    lease.check(); // it renews its own key
  });

  it("a released lease is taken at once", async () => {
    const first = await acquire("released");
    await first.release();
    const t0 = performance.now();
    await acquire("released");
    expect(performance.now() - t0).toBeLessThan(timing.staleAfterMs);
  });

  it("a holder whose lease another took stands down: check() throws and the stand-down hooks run once", async () => {
    const cutOff = await acquire("taken");
    let hooks = 0;
    cutOff.onLost(() => hooks++);
    // Another controller took the run (as after the stale window, while this one was cut off from NATS).
    await kv.put("taken.controller", encodeEnvelope("ControllerLease", { pid: 42, host: "elsewhere", startedAt: "now", incarnation: "other" }));
    for (let i = 0; i < 20 && !cutOff.lost; i++) await sleep(timing.heartbeatMs);
    expect(() => cutOff.check()).toThrow(ControllerSuperseded);
    expect(() => cutOff.check()).toThrow(/another controller took run lease taken\.controller \(pid 42 on elsewhere, started now\)/);
    await sleep(3 * timing.heartbeatMs);
    expect(hooks).toBe(1);
    // It no longer writes: the other's record stays.
    await cutOff.release();
    const e = await kv.get("taken.controller");
    expect(e?.operation).toBe("PUT");
    expect(new TextDecoder().decode(e!.value)).toContain("elsewhere");
  });

  it("a holder whose own renewal landed but whose reply was lost carries on from it", async () => {
    const lease = await acquire("own-write");
    // Its own record written again behind its back, as if the reply to its last renewal had been lost.
    await kv.put("own-write.controller", encodeEnvelope("ControllerLease", lease.holder));
    await sleep(4 * timing.heartbeatMs);
    lease.check();
    expect(lease.lost).toBe(false);
  });

  it("a holder cut off from NATS stops counting itself fresh before another controller can take the run", async () => {
    const a = await cutOffable("fenced");
    try {
      await sleep(3 * timing.heartbeatMs);
      expect(a.lease.fresh).toBe(true);
      a.proxy.cut(); // its renewals no longer reach the server, nor their replies it
      const cutAt = performance.now();
      // Watch the holder while a second controller waits out the window and takes the run.
      let unfreshAt: number | null = null;
      const watch = setInterval(() => {
        if (!a.lease.fresh) unfreshAt ??= performance.now();
      }, 5);
      const b = await acquire("fenced");
      const takenAt = performance.now();
      clearInterval(watch);
      // When B's write landed A had already stopped acting, by at least most of a heartbeat.
      expect(a.lease.fresh).toBe(false);
      expect(unfreshAt).not.toBeNull();
      expect(unfreshAt! - cutAt).toBeLessThan(timing.staleAfterMs);
      expect(takenAt - unfreshAt!).toBeGreaterThan(timing.heartbeatMs / 2);
      expect(a.lease.lost).toBe(false); // it does not know yet
      // Back on the network: its delayed renewal loses the compare-and-set, and it stands down.
      a.proxy.restore();
      await expect(a.lease.held(10_000)).rejects.toThrow(ControllerSuperseded);
      expect(a.lease.fresh).toBe(false);
      b.check();
      expect(b.fresh).toBe(true);
    } finally {
      await a.close();
    }
  });

  it("a holder cut off briefly pauses, and acts again once a renewal lands", async () => {
    const a = await cutOffable("paused");
    try {
      a.proxy.cut();
      await sleep(timing.staleAfterMs);
      expect(a.lease.fresh).toBe(false);
      await expect(a.lease.held(200)).rejects.toThrow(ControllerLeaseUnrenewed);
      await expect(a.lease.held(200)).rejects.toThrow(/run lease paused\.controller: not renewed for \d+ s \(NATS unreachable\?\)/);
      a.proxy.restore();
      await a.lease.held(10_000);
      expect(a.lease.fresh).toBe(true);
      expect(a.lease.lost).toBe(false);
    } finally {
      await a.close();
    }
  });

  it("each take is a fencing token newer than the takes before it, a store made anew included (libs/actors fence.ts)", async () => {
    const first = await acquire("tokens");
    // The revision of the write that took the lease, in the epoch of the bucket's creation.
    const entry = await kv.get("tokens.controller");
    expect(first.fencingToken.revision).toBe(BigInt(entry!.revision));
    const created = Date.parse((await kv.status()).streamInfo.created);
    expect(first.fencingToken.epochMs).toBe(BigInt(created));
    await sleep(3 * timing.heartbeatMs); // renewals move the revision, not the token
    expect(first.fencingToken.revision).toBe(BigInt(entry!.revision));
    await first.release();
    const second = await acquire("tokens");
    expect(compareTokens(second.fencingToken, first.fencingToken)).toBeGreaterThan(0);
    // The store lost and made anew: revisions start again, in a later epoch.
    const jsm = await jetstreamManager(bus.nc);
    const before = await ControllerLease.acquire(await openKv(bus.nc, "lease-epoch"), "epoch", timing);
    await before.release();
    await jsm.streams.delete("KV_lease-epoch");
    await sleep(5);
    const after = await ControllerLease.acquire(await openKv(bus.nc, "lease-epoch"), "epoch", timing);
    leases.push(after);
    expect(after.fencingToken.revision).toBeLessThanOrEqual(before.fencingToken.revision);
    expect(compareTokens(after.fencingToken, before.fencingToken)).toBeGreaterThan(0);
  });

  it("a holder whose store was lost stops with RunStoreLost: its bucket made anew without the record, or gone", async () => {
    const jsm = await jetstreamManager(bus.nc);
    const bucketGone = () => jsm.streams.info("KV_lease-lost").then(() => false, (err: Error) => /stream not found/i.test(err.message));
    // Made anew (whoever opened the bucket first after the loss): the renewal's compare-and-set finds no record.
    const remade = await ControllerLease.acquire(await openKv(bus.nc, "lease-lost"), "remade", timing, { bucketGone });
    leases.push(remade);
    await jsm.streams.delete("KV_lease-lost");
    await openKv(bus.nc, "lease-lost");
    for (let i = 0; i < 50 && !remade.lost; i++) await sleep(timing.heartbeatMs);
    expect(() => remade.check()).toThrow(RunStoreLost);
    expect(() => remade.check()).toThrow(/the NATS store holding run lease remade\.controller was lost or wiped while the run went on \(it holds no record of the lease, not even a release\)/);
    // Gone: the renewal fails, and the bucket's stream is not found.
    const orphaned = await ControllerLease.acquire(await openKv(bus.nc, "lease-lost"), "orphaned", timing, { bucketGone });
    leases.push(orphaned);
    await jsm.streams.delete("KV_lease-lost");
    for (let i = 0; i < 300 && !orphaned.lost; i++) await sleep(timing.heartbeatMs);
    expect(() => orphaned.check()).toThrow(RunStoreLost);
    expect(() => orphaned.check()).toThrow(/\(its KV bucket is gone\)/);
    expect(orphaned.lostReason).toMatch(/lspo train --resume <run dir>/);
  });

  it("a released lease found by a holder that was cut off is not taken for a lost store", async () => {
    const a = await cutOffable("released-meanwhile");
    try {
      a.proxy.cut();
      const b = await acquire("released-meanwhile");
      await b.release(); // the other controller ended: a delete marker stays
      a.proxy.restore();
      await expect(a.lease.held(10_000)).rejects.toThrow(ControllerSuperseded);
      expect(a.lease.lostReason).toMatch(/and released it since/);
    } finally {
      await a.close();
    }
  });
});
