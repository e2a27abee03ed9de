// Structured JSON logs (pino) to stderr, so a CLI's stdout stays machine-readable. Secrets never reach a
// log line: any field named like a credential is redacted wherever it sits in the object.
import { pino, type Logger } from "pino";

export type { Logger };

const SECRET_KEYS = ["password", "pass", "token", "secret", "authorization", "credentials", "nkey", "privateKey"];
// Redaction paths for the key itself and one or two levels down (pino needs explicit paths).
const REDACT = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface LoggerOptions {
  level?: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Where to write; defaults to stderr (fd 2). */
  destination?: number | NodeJS.WritableStream;
}

export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? ((process.env.LSPO_LOG_LEVEL as LoggerOptions["level"]) || "info");
  const dest = opts.destination ?? 2;
  const stream = typeof dest === "number" ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino({ name: component, level, redact: { paths: REDACT, censor: "[redacted]" }, base: { component, pid: process.pid } }, stream);
}
