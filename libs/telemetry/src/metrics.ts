// Prometheus metrics per process (prom-client), served on `/metrics` for scraping (port 9464 by convention).
// A node agent's pod has one scrape port for several processes: its actors serve their registries as JSON
// on loopback (`/metrics.json`), and the agent's `/metrics` merges them into its own (each series keeps its
// `actor` label, so nothing is summed across actors).
import { createServer, type Server } from "node:http";
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from "prom-client";

export { Counter, Gauge, Histogram, Registry };
export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>;

export function createRegistry(component: string, withDefaults = true, labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component, ...labels });
  if (withDefaults) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsServer extends AsyncDisposable {
  readonly port: number;
  close(): Promise<void>;
}

export interface ServeMetricsOptions {
  /** More registries' metrics (as `/metrics.json` gives them) to merge into `/metrics`: an agent's actors. */
  merge?: () => Promise<MetricsJson[]>;
}

async function exposition(registry: Registry, opts: ServeMetricsOptions): Promise<string> {
  if (!opts.merge) return registry.metrics();
  const others = await opts.merge();
  return AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...others] as never).metrics();
}

export async function serveMetrics(registry: Registry, port = 9464, host = "0.0.0.0", opts: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url === "/metrics.json") {
      registry.getMetricsAsJSON().then(
        (body) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body)),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    if (req.url !== "/metrics") {
      res.writeHead(404).end("not found: metrics are at /metrics\n");
      return;
    }
    exposition(registry, opts).then(
      (body) => res.writeHead(200, { "content-type": registry.contentType }).end(body),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return listen(server, port, host);
}

/** Reads another process's registry from its `/metrics.json` (null when it does not answer in time). */
export async function fetchMetricsJson(url: string, timeoutMs = 2000): Promise<MetricsJson | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? ((await res.json()) as MetricsJson) : null;
  } catch {
    return null;
  }
}

export async function listen(server: Server, port: number, host: string): Promise<MetricsServer> {
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, () => resolve()));
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { port: bound, close, [Symbol.asyncDispose]: close };
}
