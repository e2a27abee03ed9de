// Probes as the kubelet defines them: parsing (defaults from the Kubernetes API) and the per-probe state
// machine (initial delay, period, consecutive failure/success thresholds). Running a probe is probe-agent's
// job (in the node's namespace) or the kubelet's (exec, inside the container).
import { type Container, resolvePort } from "./manifests.js";

export type ProbeAction =
  | { kind: "grpc"; port: number; service?: string }
  | { kind: "http"; port: number; path: string; scheme: "HTTP" | "HTTPS"; headers: Array<{ name: string; value: string }>; host?: string }
  | { kind: "tcp"; port: number; host?: string }
  | { kind: "exec"; command: string[] };

export interface Probe {
  type: "startup" | "liveness" | "readiness";
  action: ProbeAction;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  successThreshold: number;
}

export function parseProbe(type: Probe["type"], raw: any, c: Container): Probe {
  const port = (p: number | string): number => {
    const n = resolvePort([c], p);
    if (n === undefined) throw new Error(`container ${c.name}: ${type}Probe names port ${p}, which the container does not declare`);
    return n;
  };
  let action: ProbeAction;
  if (raw.grpc) action = { kind: "grpc", port: port(raw.grpc.port), service: raw.grpc.service };
  else if (raw.httpGet) action = { kind: "http", port: port(raw.httpGet.port), path: raw.httpGet.path ?? "/", scheme: raw.httpGet.scheme ?? "HTTP", headers: raw.httpGet.httpHeaders ?? [], host: raw.httpGet.host };
  else if (raw.tcpSocket) action = { kind: "tcp", port: port(raw.tcpSocket.port), host: raw.tcpSocket.host };
  else if (raw.exec) action = { kind: "exec", command: raw.exec.command };
  else throw new Error(`container ${c.name}: ${type}Probe has no handler the live check knows (${Object.keys(raw).join(", ")})`);
  return {
    type,
    action,
    initialDelaySeconds: raw.initialDelaySeconds ?? 0,
    periodSeconds: raw.periodSeconds ?? 10,
    timeoutSeconds: raw.timeoutSeconds ?? 1,
    failureThreshold: raw.failureThreshold ?? 3,
    // liveness and startup must have 1 (the API refuses anything else)
    successThreshold: type === "readiness" ? (raw.successThreshold ?? 1) : 1,
  };
}

export function containerProbes(c: Container): Probe[] {
  const out: Probe[] = [];
  if (c.startupProbe) out.push(parseProbe("startup", c.startupProbe, c));
  if (c.livenessProbe) out.push(parseProbe("liveness", c.livenessProbe, c));
  if (c.readinessProbe) out.push(parseProbe("readiness", c.readinessProbe, c));
  return out;
}

/** Consecutive results of one probe against its thresholds: the kubelet's view of "healthy". */
export class ProbeState {
  private successes = 0;
  private failures = 0;
  /** readiness starts false; liveness and startup count as passing until they fail enough */
  ok: boolean;
  constructor(readonly probe: Probe) {
    this.ok = probe.type !== "readiness" && probe.type !== "startup";
  }
  /** Records one result; returns true when the probe's verdict changed. */
  record(success: boolean): boolean {
    const before = this.ok;
    if (success) {
      this.failures = 0;
      this.successes++;
      if (this.successes >= this.probe.successThreshold) this.ok = true;
    } else {
      this.successes = 0;
      this.failures++;
      if (this.failures >= this.probe.failureThreshold) this.ok = false;
    }
    return before !== this.ok;
  }
  get failedOut(): boolean {
    return !this.ok && this.failures >= this.probe.failureThreshold;
  }
}
