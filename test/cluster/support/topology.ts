// Issue 14's topology: three NATS hosts, a controller, a learner, a sampler + verifier host and N rollout
// hosts, each non-NATS, non-controller host running one node agent labelled with its role. Also which
// runtime features today's code has, so the run driver can do what it allows and say what it cannot.
import { join } from "node:path";
import { loadConfigFile } from "@lspo/config";
import { root } from "./nats-cluster.js";

export const NATS_HOSTS = ["nats-1", "nats-2", "nats-3"];

export interface Topology {
  hosts: string[];
  /** Agent hosts and their node label (LSPO_NODE_LABELS). */
  agents: Array<{ host: string; role: "learner" | "sampler" | "rollout" }>;
  rolloutHosts: string[];
}

export function topology(rolloutHosts: number): Topology {
  if (!Number.isInteger(rolloutHosts) || rolloutHosts < 2) throw new Error(`--rollout-hosts must be an integer >= 2 (one is killed and its actors must go elsewhere), got ${rolloutHosts}`);
  const rollout = Array.from({ length: rolloutHosts }, (_, i) => `rollout-${i + 1}`);
  return {
    hosts: [...NATS_HOSTS, "controller", "learner", "sampler", ...rollout],
    agents: [
      { host: "learner", role: "learner" },
      { host: "sampler", role: "sampler" },
      ...rollout.map((host) => ({ host, role: "rollout" as const })),
    ],
    rolloutHosts: rollout,
  };
}

/** Placement by node label (planned `cluster.placement.<kind>.nodeSelector`): the verifiers share the
 *  sampler's host, as the topology asks. */
export const PLACEMENT_OVERRIDES = [
  "cluster.agents=remote",
  "cluster.placement.learner.nodeSelector.role=learner",
  "cluster.placement.sampler.nodeSelector.role=sampler",
  "cluster.placement.verifier.nodeSelector.role=sampler",
  "cluster.placement.rollout.nodeSelector.role=rollout",
];

export interface Features {
  /** `cluster.agents: remote` + `cluster.placement.*.nodeSelector`: the controller places actors on remote
   *  `lspo agent`s by label, and a reconciler moves a dead host's actors (runtime work in progress). */
  remoteAgents: boolean;
}

/** What today's config schema accepts: the planned keys are strict-schema errors until they land. */
export function detectFeatures(): Features {
  try {
    loadConfigFile(join(root, "configs/smoke.yaml"), PLACEMENT_OVERRIDES);
    return { remoteAgents: true };
  } catch {
    return { remoteAgents: false };
  }
}

/** The pending runtime features each part of the run needs, named once for the code and the report. */
export const NEEDS = {
  remoteAgents: "cluster.agents=remote with label placement (controller places actors on remote `lspo agent`s; agents advertise LSPO_ADVERTISE_HOST)",
  reconciler: "a reconciler that restarts a dead host's actors on another matching agent",
  runScopedRegistry: "a run-scoped actor registry (LSPO_RUN_ID), so two runs on one NATS never see each other's agents",
  ledger: "summary.json `ledger` {requested, trained, dropped, lost, duplicates} by uid",
} as const;
