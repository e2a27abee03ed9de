// `lspo swap-algorithm <name> [--set key=value ...] (--learner <host:port> | --run-dir <dir> | --nats <url> [--run <id>])`
import { parseArgs } from "node:util";
import { parseSetValue } from "@lspo/algos";
import { ActorRegistry, actorHandle, connectClient } from "@lspo/actors";
import { busOptionsFromEnv, connectBus, jetstreamManager, lastEvent } from "@lspo/bus";
import { LearnerServiceService } from "@lspo/proto";
import { readRunInfo } from "../run/run-dir.js";
import { GRPC_FLAG_OPTIONS, GRPC_FLAGS_USAGE, operatorClientOptions } from "../operator-grpc.js";

export const summary = "hot-swap the learner's base algorithm at its next update: swap-algorithm <grpo|dapo|gspo|dr_grpo> [--set k=v ...]";

const USAGE = `usage: lspo swap-algorithm <name> [--set key=value ...] (--learner <host:port> | --run-dir <dir> | --nats <url> [--run <id>])
                          ${GRPC_FLAGS_USAGE}

Takes effect at the learner's next update boundary and swaps the whole preset (GSPO's clip range is
3e-4/4e-4, not 0.2); optimizer state is kept. Without --learner, the learner is found in the run's registry
(the run id from --run, the run directory's run.json, or LSPO_RUN_ID; default "run").`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      set: { type: "string", multiple: true },
      learner: { type: "string" },
      "run-dir": { type: "string" },
      nats: { type: "string" },
      run: { type: "string" },
      ...GRPC_FLAG_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) return (console.log(USAGE), 0);
  if (positionals.length !== 1) {
    console.error(`lspo swap-algorithm: give exactly one algorithm name\n\n${USAGE}`);
    return 2;
  }
  const overrides: Record<string, unknown> = {};
  for (const kv of values.set ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      console.error(`lspo swap-algorithm: --set '${kv}' is not key=value`);
      return 2;
    }
    overrides[kv.slice(0, eq)] = parseSetValue(kv.slice(eq + 1));
  }
  // The deployment's gRPC settings (LSPO_GRPC_TLS_*, LSPO_GRPC_TOKEN(_FILE)); flags override them.
  const client = operatorClientOptions(values);
  const request = { spec: { name: positionals[0], overrides } };
  let res;
  if (values.learner) {
    const c = connectClient(LearnerServiceService, values.learner, { ...client, expectIdentity: client.identity ? "learner" : undefined });
    try {
      res = await c.call.swapAlgorithm(request);
    } finally {
      c.close();
    }
  } else {
    const url = values.nats ?? (values["run-dir"] ? readRunInfo(values["run-dir"]).natsUrl : busOptionsFromEnv().url);
    if (!url) {
      console.error(`lspo swap-algorithm: say where the learner is: --learner, --run-dir or --nats\n\n${USAGE}`);
      return 2;
    }
    const nc = await connectBus({ ...busOptionsFromEnv(), url, name: "lspo-swap" });
    try {
      // With a run id, refuse to swap on a NATS that has never seen that run (a wrong URL or id would
      // otherwise reach whatever learner is registered there).
      if (values.run && !(await lastEvent(await jetstreamManager(nc), values.run, "metric").catch(() => null)) && !(await lastEvent(await jetstreamManager(nc), values.run, "ledger").catch(() => null))) {
        console.error(`lspo swap-algorithm: no events of run '${values.run}' on ${url}: check --run and --nats`);
        return 2;
      }
      const runId = values.run ?? (values["run-dir"] ? readRunInfo(values["run-dir"]).runId : process.env.LSPO_RUN_ID) ?? "run";
      const h = actorHandle(await ActorRegistry.open(nc, { runId }), LearnerServiceService, "learner", client);
      res = await h.call.swapAlgorithm(request);
      h.close();
    } finally {
      await nc.close();
    }
  }
  console.log(JSON.stringify({ effective_step: Number(res.effectiveStep), active: res.active?.name, pending: res.pending?.name, parameters: res.pending?.overrides }));
  return 0;
}
