// Runs probes the way the kubelet does: network probes from the node's namespace (probe-agent.mjs, one
// long-lived process per node), exec probes inside the container's namespaces as the container's user.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ProbeAction } from "./probes.js";

export interface ProbeResult {
  ok: boolean;
  message: string;
}

const AGENT = fileURLToPath(new URL("./probe-agent.mjs", import.meta.url));

export class NodeProber {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (r: ProbeResult) => void>();
  private next = 1;

  constructor(nodeNs: string, cwd: string, onPid: (pid: number) => void) {
    this.child = spawn("ip", ["netns", "exec", nodeNs, process.execPath, AGENT], { cwd, stdio: ["pipe", "pipe", "inherit"], detached: true });
    if (this.child.pid) onPid(this.child.pid);
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const r = JSON.parse(line);
      this.waiting.get(r.id)?.({ ok: r.ok, message: r.message });
      this.waiting.delete(r.id);
    });
    this.child.stdin!.on("error", () => undefined);
  }

  probe(ip: string, action: Exclude<ProbeAction, { kind: "exec" }>, timeoutMs: number): Promise<ProbeResult> {
    const id = this.next++;
    return new Promise((resolve) => {
      // the agent's own timeouts answer first; this one only guards against a dead agent
      const guard = setTimeout(() => (this.waiting.delete(id), resolve({ ok: false, message: "probe agent did not answer" })), timeoutMs + 5000);
      this.waiting.set(id, (r) => (clearTimeout(guard), resolve(r)));
      this.child.stdin!.write(JSON.stringify({ id, ip, action, timeoutMs }) + "\n");
    });
  }

  close(): void {
    this.child.stdin?.end();
    this.child.kill("SIGKILL");
  }
}

/** An exec probe: the command in the container's network, mount and UTS namespaces, as its user. */
export function execProbe(pid: number, user: string[], command: string[], timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile("nsenter", ["-t", String(pid), "-n", "-m", "-u", ...user, ...command], { encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? ((err as any).code ?? "killed") : 0;
      resolve({ ok: !err, message: `exec exit ${code}: ${(stdout + stderr).trim().slice(-200)}` });
    });
  });
}
