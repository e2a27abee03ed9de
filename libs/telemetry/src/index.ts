// Public entry of @lspo/telemetry: structured logs, Prometheus metrics, the run's metrics.jsonl, the
// provenance of measurements.
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export {
  createRegistry, fetchMetricsJson, serveMetrics, Counter, Gauge, Histogram, Registry, type MetricsJson, type MetricsServer, type ServeMetricsOptions,
} from "./metrics.js";
export { serveHealth, type HealthChecks } from "./health.js";
export { MetricsFile, type MetricRecord } from "./run-metrics.js";
export { startProvenance, provenanceLabel, type Provenance } from "./provenance.js";
