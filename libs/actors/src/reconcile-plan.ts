// The reconciler's decisions, pure: from what the registry view shows (arrival times on the reader's
// clock) and the actors the controller wants, which nodes are dead, which actors to re-place, and which
// have FAILED on their agent. No I/O here, so every rule is unit-tested with plain values.
import { ComponentState } from "@lspo/proto";

/** One actor the controller wants running, by name, and how to start it again elsewhere. */
export interface DesiredActor {
  name: string;
  kind: string;
  cpus?: number;
  gpus?: 0 | 1;
  nodeSelector?: Record<string, string>;
  configJson?: string;
  maxRestarts?: number;
}

export interface ObservedNode {
  node: string;
  /** Reader's monotonic time (ms) its latest record arrived. */
  arrivedAt: number;
}

export interface ObservedActor {
  name: string;
  kind: string;
  node: string;
  state: ComponentState;
  restarts: number;
}

export interface Observation {
  now: number;
  /** Since when the view has been watching without a gap: silence before that is the reader's, not the node's. */
  healthySince: number;
  nodes: ObservedNode[];
  actors: ObservedActor[];
}

export type Decision =
  | { type: "replace"; actor: DesiredActor; from: string | null; silentMs: number }
  | { type: "failed"; name: string; node: string; restarts: number };

export interface PlanOptions {
  /** A node whose record got no new revision for this long is dead (default 15 s: above a 10 s partition). */
  nodeDeadAfterMs: number;
}

export const DEFAULT_NODE_DEAD_AFTER_MS = 15_000;

/** How long a node has been silent, as this reader can vouch for (never more than the view has watched). */
export function silenceOf(node: ObservedNode, now: number, healthySince: number): number {
  return now - Math.max(node.arrivedAt, healthySince);
}

/** Nodes silent longer than nodeDeadAfterMs, with how long. */
export function deadNodes(obs: Observation, opts: PlanOptions): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of obs.nodes) {
    const silent = silenceOf(n, obs.now, obs.healthySince);
    if (silent > opts.nodeDeadAfterMs) out.set(n.node, silent);
  }
  return out;
}

/**
 * For each desired actor: nothing (its record sits on a live node), "replace" (its node is dead, or gone
 * from the registry, or its record was deleted), or "failed" (its agent gave up on it: the controller
 * decides what that means for the run). `skip` holds names with a placement already in flight.
 */
export function planReconcile(obs: Observation, desired: DesiredActor[], opts: PlanOptions, skip: ReadonlySet<string> = new Set()): Decision[] {
  const dead = deadNodes(obs, opts);
  const known = new Set(obs.nodes.map((n) => n.node));
  // By kind and name: a record of another kind that carries a wanted actor's name (another identity may
  // register such a name under its own keys) is not that actor.
  const byName = new Map(obs.actors.map((a) => [`${a.kind}/${a.name}`, a]));
  const out: Decision[] = [];
  for (const want of desired) {
    if (skip.has(want.name)) continue;
    const rec = byName.get(`${want.kind}/${want.name}`);
    if (!rec) {
      out.push({ type: "replace", actor: want, from: null, silentMs: 0 });
      continue;
    }
    if (dead.has(rec.node)) {
      out.push({ type: "replace", actor: want, from: rec.node, silentMs: dead.get(rec.node)! });
      continue;
    }
    if (!known.has(rec.node)) {
      // The agent deregistered (drained, or its record expired): its actors went with it.
      out.push({ type: "replace", actor: want, from: rec.node, silentMs: Infinity });
      continue;
    }
    if (rec.state === ComponentState.COMPONENT_STATE_FAILED) out.push({ type: "failed", name: rec.name, node: rec.node, restarts: rec.restarts });
  }
  return out;
}

/** Exponential backoff for placement retries: base * 2^(attempt-1), capped. */
export function backoffMs(attempt: number, baseMs = 500, maxMs = 30_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
