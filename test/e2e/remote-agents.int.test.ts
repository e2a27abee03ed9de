// cluster.agents "remote": the controller starts no agent of its own. Two `lspo agent --run <id>` processes
// (the "hosts", here on one machine) advertise labels; the controller waits for them, places each kind by
// its nodeSelector, and finishes the run with every actor where its selector says.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfigFile } from "@lspo/config";
import { startNatsServer, type NatsServer } from "@lspo/bus";
import { train } from "@lspo/controller";

const root = resolve(import.meta.dirname, "../..");
const RUN = "remote-e2e";
let nats: NatsServer;
const agents: ChildProcess[] = [];

function startAgent(node: string, labels: string): ChildProcess {
  const child = spawn(process.execPath, [join(root, "scripts/lspo.mjs"), "agent", "--run", RUN], {
    env: { ...process.env, LSPO_NATS_URL: nats.url, LSPO_NODE_NAME: node, LSPO_NODE_LABELS: labels, LSPO_GRPC_PORT: "0", LSPO_AGENT_CPUS: "8" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  agents.push(child);
  return child;
}

beforeAll(async () => {
  nats = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => new Promise((r) => (a.exitCode !== null ? r(null) : (a.once("exit", r), a.kill("SIGTERM"))))));
  await nats?.stop();
});

const config = (overrides: string[]) =>
  loadConfigFile(join(root, "configs/smoke.yaml"), [
    `run.name=${RUN}`, `run.dir=${mkdtempSync(join(tmpdir(), "lspo-remote-"))}`, "run.timeoutS=120", `nats.url=${nats.url}`, "cluster.agents=remote", ...overrides,
  ]);

describe("pipeline - remote agents", { timeout: 300_000 }, () => {
  it("fails clearly when no agent matches a kind's selector", async () => {
    await expect(train(config(["cluster.agentWaitS=2", "cluster.placement.learner.nodeSelector.role=trainer"]), { quiet: true })).rejects.toThrow(
      /no live agent of run 'remote-e2e' matches .*learner: \{"role":"trainer"\}.*lspo agent --run remote-e2e/,
    );
  });

  it("places each kind on the agents its nodeSelector names and completes the run", async () => {
    startAgent("host-a", "role=trainer");
    startAgent("host-b", "role=rollout");
    const where = new Map<string, string>();
    const s = await train(
      config([
        "cluster.placement.learner.nodeSelector.role=trainer", "cluster.placement.sampler.nodeSelector.role=trainer",
        "cluster.placement.verifier.nodeSelector.role=rollout", "cluster.placement.rollout.nodeSelector.role=rollout",
      ]),
      {
        quiet: true,
        onStep: async (_step, run) => {
          for (const a of await run.registry.listActors()) where.set(a.name, a.node);
          expect(() => run.agent).toThrow(/cluster.agents is "remote"/);
        },
      },
    );
    expect(s.steps).toBe(3);
    expect(s.lost).toBe(0);
    expect(Object.fromEntries(where)).toEqual({ "learner-0": "host-a", "sampler-0": "host-a", "verifier-0": "host-b", "rollout-0": "host-b", "rollout-1": "host-b" });
    expect(s.actors.map((a) => a.name).sort()).toEqual(["learner-0", "rollout-0", "rollout-1", "sampler-0", "verifier-0"]);
  });
});
