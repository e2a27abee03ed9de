// Plaintext health endpoints for the kubelet, on their own port: the gRPC ports require client certificates
// (mutual TLS), which a kubelet probe does not present. `/healthz` (liveness) answers while the process's
// event loop runs; `/readyz` (readiness) asks the process whether it can take work. A check returns null
// when healthy, else the reason, which the probe's response body carries (kubectl describe shows it).
import { createServer } from "node:http";
import { listen, type MetricsServer } from "./metrics.js";

export interface HealthChecks {
  live?: () => string | null;
  ready?: () => string | null;
}

export async function serveHealth(checks: HealthChecks, port: number, host = "0.0.0.0"): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const check = path === "/healthz" ? checks.live : path === "/readyz" ? checks.ready : undefined;
    if (path !== "/healthz" && path !== "/readyz") {
      res.writeHead(404).end("not found: /healthz and /readyz\n");
      return;
    }
    let reason: string | null;
    try {
      reason = check ? check() : null;
    } catch (err) {
      reason = `check failed: ${(err as Error).message}`;
    }
    res.writeHead(reason === null ? 200 : 503, { "content-type": "text/plain" }).end(reason === null ? "ok\n" : `${reason}\n`);
  });
  return listen(server, port, host);
}
