// What a resume stops before it starts its embedded nats-server (leftover-nats.ts): the recorded pid only if
// it is a nats-server running on this run's store; another store's server, a pid that is no nats-server, and
// no pid at all are left alone.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServer } from "@lspo/bus";
import { leftoverNats, stopLeftoverNats } from "../src/run/leftover-nats.js";

const servers: NatsServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
});

describe("stopLeftoverNats", () => {
  it("stops the server on this run's store, and nothing else", async () => {
    const store = join(mkdtempSync(join(tmpdir(), "lspo-leftover-nats-")), "nats");
    const ours = await startNatsServer({ storeDir: store });
    const theirs = await startNatsServer();
    servers.push(ours, theirs);

    expect(await stopLeftoverNats(undefined, store)).toBe(false);
    expect(await stopLeftoverNats(process.pid, store)).toBe(false); // a live pid, but no nats-server
    expect(await stopLeftoverNats(theirs.pid, store)).toBe(false); // a nats-server on another store
    expect(leftoverNats(theirs.pid, theirs.storeDir)).toBe(theirs.pid);
    expect(leftoverNats(ours.pid, store)).toBe(ours.pid);

    expect(await stopLeftoverNats(ours.pid, store)).toBe(true);
    expect(leftoverNats(ours.pid, store)).toBeNull();
    expect(leftoverNats(theirs.pid, theirs.storeDir)).toBe(theirs.pid); // untouched
  });
});
