// A TCP proxy on loopback that can cut its clients off from the server without closing anything: while cut,
// what either side sends is held back (a network that silently drops a host, as a partition looks to NATS
// clients: no error, no reply), and on restore it is delivered, late. New connections are held the same way.
// `cutBefore` cuts it the moment a client sends a chunk that matches, that chunk held too: a message caught
// in flight, for a test that needs one (the sampler stopped while a batch is on its way).
import { createConnection, createServer, type Socket } from "node:net";

export interface BlackHoleProxy {
  readonly port: number;
  /** Whether it is cut now (by cut() or by `cutBefore`). */
  readonly isCut: boolean;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export interface BlackHoleProxyOptions {
  /** Cut when a client sends a chunk for which this is true (the chunk is held, as is all after it). */
  cutBefore?: (clientChunk: Buffer) => boolean;
}

export async function startBlackHoleProxy(targetPort: number, opts: BlackHoleProxyOptions = {}): Promise<BlackHoleProxy> {
  let isCut = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  // Forwards from one socket to the other, holding chunks back while the proxy is cut.
  const forward = (from: Socket, to: Socket, fromClient: boolean) =>
    from.on("data", (chunk: Buffer) => {
      if (!isCut && fromClient && opts.cutBefore?.(chunk)) isCut = true;
      if (isCut) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = createServer((client) => {
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined); // the other side's close ends this one below
    }
    forward(client, upstream, true);
    forward(upstream, client, false);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get isCut() {
      return isCut;
    },
    cut() {
      isCut = true;
    },
    restore() {
      isCut = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
