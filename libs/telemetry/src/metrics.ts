// Prometheus metrics per process (prom-client), served on `/metrics` for scraping (port 9464 by convention).
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export { Counter, Gauge, Histogram, Registry };

export function createRegistry(component: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServer extends AsyncDisposable {
  readonly port: number;
  close(): Promise<void>;
}

export async function serveMetrics(registry: Registry, port = 9464, host = "0.0.0.0"): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found: metrics are at /metrics\n");
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, () => resolve()));
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { port: bound, close, [Symbol.asyncDispose]: close };
}
