// A TCP proxy on loopback that can cut its clients off from the server without closing anything: while cut,
// what either side sends is held back (a network that silently drops a host, as a partition looks to NATS
// clients: no error, no reply), and on restore it is delivered, late. New connections are held the same way.
import { createConnection, createServer, type Socket } from "node:net";

export interface BlackHoleProxy {
  readonly port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBlackHoleProxy(targetPort: number): Promise<BlackHoleProxy> {
  let isCut = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  // Forwards from one socket to the other, holding chunks back while the proxy is cut.
  const forward = (from: Socket, to: Socket) =>
    from.on("data", (chunk) => {
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
    forward(client, upstream);
    forward(upstream, client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
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
