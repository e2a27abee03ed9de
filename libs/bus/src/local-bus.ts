// A private nats-server with one connection to it: what a test suite starts before it talks to the bus.
// Framework-free, so the tests of every package (and the repo's end-to-end tests) share it through
// @lspo/bus's public entry, each registering its own before/after hooks.
import type { NatsConnection } from "@nats-io/nats-core";
import { connectBus } from "./connection.js";
import { startNatsServer, type NatsServer } from "./nats-server.js";
import { ensureStreams, jetstreamManager, type StreamOptions } from "./streams.js";

export interface LocalBusOptions {
  /** Create the run streams (STREAMS) before returning: `true` with their defaults, or with these options. */
  streams?: true | StreamOptions;
}

export interface LocalBus {
  readonly server: NatsServer;
  readonly nc: NatsConnection;
  /** Closes the connection, then stops the server (removing its temporary store). */
  stop(): Promise<void>;
}

export async function startLocalBus(opts: LocalBusOptions = {}): Promise<LocalBus> {
  const server = await startNatsServer();
  // A start that fails half-way stops what it started: the caller never gets a handle to stop it with.
  const nc = await connectBus({ url: server.url }).catch(async (err) => {
    await server.stop();
    throw err;
  });
  const bus: LocalBus = {
    server,
    nc,
    async stop() {
      await nc.close();
      await server.stop();
    },
  };
  try {
    if (opts.streams) await ensureStreams(await jetstreamManager(nc), opts.streams === true ? {} : opts.streams);
  } catch (err) {
    await bus.stop();
    throw err;
  }
  return bus;
}
