// The controller SIGKILLed mid-run with remote agents (as a Kubernetes Job's pod lost with its node): the
// agents, and the actors they run, outlive it. `lspo train --resume` stops those actors before it places its
// own, so the run never has two learners (or samplers) sharing its consumers, and finishes the run. Without
// the stop, the resumed run had two learners and two samplers at once. A resume started while the first
// controller still lives is refused (the run's controller lease, services/controller/src/run/lease.ts), and so
// is one while the learner's agent is frozen (SIGSTOP) with the learner still running: nothing can stop it.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { ActorRegistry, connectClient } from "@lspo/actors";
import { connectBus, startNatsServer, type NatsServer } from "@lspo/bus";
import { ComponentState, NodeAgentServiceService } from "@lspo/proto";
import { cliProcesses } from "./support/cli-process.js";
import { exited, until } from "./support/wait.js";

const root = resolve(import.meta.dirname, "../..");
const RUN = "controller-killed";
let nats: NatsServer;
const { lspo, stopAll } = cliProcesses();

beforeAll(async () => {
  nats = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
});
afterAll(async () => {
  await stopAll();
  await nats?.stop();
});

describe("controller SIGKILLed with remote agents", { timeout: 600_000 }, () => {
  it("--resume finishes the run with one learner at a time, nothing lost or trained twice", async () => {
    const agentEnv = (node: string, labels: string) => ({ LSPO_NATS_URL: nats.url, LSPO_NODE_NAME: node, LSPO_NODE_LABELS: labels, LSPO_GRPC_PORT: "0", LSPO_AGENT_CPUS: "8" });
    const agents = {
      "host-a": lspo(["agent", "--run", RUN], agentEnv("host-a", "role=trainer")),
      "host-b": lspo(["agent", "--run", RUN], agentEnv("host-b", "role=rollout")),
      "host-c": lspo(["agent", "--run", RUN], agentEnv("host-c", "role=trainer")),
    };
    const dir = mkdtempSync(join(tmpdir(), "lspo-controller-killed-"));
    const config = [
      "-c", join(root, "configs/smoke.yaml"), `run.name=${RUN}`, `run.dir=${dir}`, "run.steps=12", "run.timeoutS=120", `nats.url=${nats.url}`,
      "cluster.agents=remote", "cluster.agentSettleS=1",
      "cluster.placement.learner.nodeSelector.role=trainer", "cluster.placement.sampler.nodeSelector.role=trainer",
      "cluster.placement.verifier.nodeSelector.role=rollout", "cluster.placement.rollout.nodeSelector.role=rollout",
    ];
    const first = lspo(["train", ...config, "--quiet"]);
    await until("a checkpoint at step 2", () => existsSync(join(dir, "checkpoints/step-000002/state.json")), 180_000);
    // A second controller while the first lives: refused before it writes anything, naming the first.
    const second = lspo(["train", "--resume", dir, "--quiet"]);
    await exited(second.child);
    expect(second.child.exitCode).not.toBe(0);
    expect(second.err()).toMatch(new RegExp(`run '${RUN}' has a live controller \\(pid ${first.child.pid} on `));
    expect(first.child.exitCode).toBeNull();
    first.child.kill("SIGKILL");
    await exited(first.child);

    const nc = await connectBus({ url: nats.url, name: "test" });
    const registry = await ActorRegistry.open(nc, { runId: RUN });
    const runningLearners = async () => (await registry.listActors()).filter((a) => a.kind === "learner" && a.state === ComponentState.COMPONENT_STATE_RUNNING).map((a) => a.name);
    const before = await runningLearners();

    // The learner's agent frozen, the learner itself still running and renewing its record: a resume cannot
    // stop it, and refuses to start rather than place a second learner on the other trainer host. (Settling
    // the agents for 8 s lets the frozen agent's record go stale in the resume's view first.)
    const learnerNode = (await registry.listActors()).find((a) => a.kind === "learner")!.node as keyof typeof agents;
    const frozen = agents[learnerNode].child;
    frozen.kill("SIGSTOP");
    try {
      const refused = lspo(["train", "--resume", dir, "cluster.agentSettleS=8", "--quiet"]);
      await exited(refused.child);
      expect(refused.child.exitCode).not.toBe(0);
      expect(refused.err()).toMatch(new RegExp(`an earlier controller of run '${RUN}' left learner-0 on ${learnerNode}(, sampler-0 on ${learnerNode})? running, and its agent did not answer a stop \\(its agent on ${learnerNode} has not renewed its node record`));
      expect(await runningLearners()).toEqual(["learner-0"]); // nothing placed beside it
    } finally {
      frozen.kill("SIGCONT");
    }

    let most = before.length;
    const resumed = lspo(["train", "--resume", dir, "--quiet"]);
    const watch = setInterval(() => void runningLearners().then((l) => (most = Math.max(most, l.length))).catch(() => undefined), 200);
    await exited(resumed.child);
    clearInterval(watch);
    // The resumed controller fenced the agents at its lease take (libs/actors fence.ts): a call with the first
    // take of the lease bucket's epoch, older than any controller's here, is refused by each.
    const fencedAt: string[] = [];
    for (const node of await registry.listNodes()) {
      const agent = connectClient(NodeAgentServiceService, node.agentAddress, { deadlineMs: 10_000 });
      const err = await agent.call.fence({ fencingToken: { epochMs: 1n, revision: 1n } }).then(() => null, (e: grpc.ServiceError) => e).finally(() => agent.close());
      expect(err, `the agent on ${node.node}`).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
      expect(err!.message).toMatch(/Fence refused: the call carries lease take 1 of .*, older than the fence of the agent on host-/);
      fencedAt.push(node.node);
    }
    expect(fencedAt.sort()).toEqual(["host-a", "host-b", "host-c"]);
    registry.close();
    await nc.close();
    console.log(JSON.stringify({ before, most, exit: resumed.child.exitCode, out: resumed.out().trim().split("\n").pop() }));
    // The killed controller's lease was taken over once it had stayed unrenewed through the window.
    expect(resumed.err()).not.toMatch(/live controller/);
    expect(before).toEqual(["learner-0"]); // the killed controller's learner was still running
    expect(resumed.child.exitCode).toBe(0);
    expect(most).toBe(1);
    const result = JSON.parse(resumed.out().trim().split("\n").pop()!);
    expect(result).toMatchObject({ steps: 12, lost: 0, duplicates: 0 });
  });
});
