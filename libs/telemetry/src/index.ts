// Public entry of @lspo/telemetry: structured logs, Prometheus metrics, the run's metrics.jsonl, the
// provenance of measurements.
export { createLogger, type Logger, type LoggerOptions } from "./logger.js";
export { createRegistry, serveMetrics, Counter, Gauge, Histogram, Registry, type MetricsServer } from "./metrics.js";
export { MetricsFile, type MetricRecord } from "./run-metrics.js";
export { startProvenance, provenanceLabel, type Provenance } from "./provenance.js";
