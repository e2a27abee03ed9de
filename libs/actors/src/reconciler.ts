// The reconciler: keeps the controller's desired actors placed across node agents. Driven by the run's
// RegistryView (a tick every second: silence needs time to pass), it re-places the actors of a dead node
// by name on surviving agents that match their selector (deleting the dead claims first), retries failed
// placements with exponential backoff, and reports what it did through `onEvent`. Decisions come from the
// pure reconcile-plan.ts; this file only does the I/O.
import { performance } from "node:perf_hooks";
import type { ClientOptions } from "./grpc-client.js";
import { placeActors } from "./placement.js";
import type { ActorRegistry } from "./registry.js";
import type { RegistryView } from "./registry-view.js";
import { DEFAULT_NODE_DEAD_AFTER_MS, backoffMs, deadNodes, planReconcile, type DesiredActor, type Observation } from "./reconcile-plan.js";

export type ReconcileEvent =
  | { event: "replaced"; actor: string; from: string | null; to: string; afterMs: number }
  | { event: "placement-failed"; actor: string; from: string | null; error: string; retryInMs: number }
  | { event: "failed"; actor: string; node: string; restarts: number };

export interface ReconcilerOptions {
  desired: DesiredActor[];
  /** Default 15 s: above a 10 s network partition, so a briefly cut host is not replaced. */
  nodeDeadAfterMs?: number;
  /** gRPC options for calling agents (TLS, control token). */
  client?: ClientOptions;
  onEvent?: (e: ReconcileEvent) => void;
  tickMs?: number;
  /**
   * Asked before each pass and before each placement: false skips it (the controller does not know that it
   * still holds the run, as when cut off from NATS). Default: always.
   */
  mayAct?: () => boolean;
  /** First retry delay after a failed placement; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export function observe(view: RegistryView, now = performance.now()): Observation {
  return {
    now,
    healthySince: view.healthySince,
    nodes: view.nodes().map((e) => ({ node: e.record.node, arrivedAt: e.arrivedAt })),
    actors: view.actors().map((e) => ({ name: e.record.name, kind: e.record.kind, node: e.record.node, state: e.record.state, restarts: e.record.restarts })),
  };
}

export class Reconciler {
  private readonly desired = new Map<string, DesiredActor>();
  private readonly inFlight = new Set<string>();
  private readonly retry = new Map<string, { attempts: number; at: number }>();
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  private constructor(
    private readonly registry: ActorRegistry,
    private readonly view: RegistryView,
    private readonly opts: ReconcilerOptions,
  ) {
    for (const d of opts.desired) this.want(d);
  }

  static async start(registry: ActorRegistry, opts: ReconcilerOptions): Promise<Reconciler> {
    const nodeDeadAfterMs = opts.nodeDeadAfterMs ?? DEFAULT_NODE_DEAD_AFTER_MS;
    if (!Number.isFinite(nodeDeadAfterMs) || nodeDeadAfterMs <= 0) throw new Error(`Reconciler: nodeDeadAfterMs must be > 0, got ${opts.nodeDeadAfterMs}`);
    const r = new Reconciler(registry, await registry.view(), { ...opts, nodeDeadAfterMs });
    r.timer = setInterval(() => void r.tick(), opts.tickMs ?? 1000);
    r.timer.unref();
    return r;
  }

  /** Adds (or updates) an actor to keep placed. */
  want(actor: DesiredActor): void {
    this.desired.set(actor.name, actor);
  }

  /** Stops keeping an actor placed (the controller is winding it down on purpose). */
  release(name: string): void {
    this.desired.delete(name);
    this.retry.delete(name);
  }

  /** One pass: decide, then act on each decision (placements run one at a time, in the background). */
  async tick(now = performance.now()): Promise<void> {
    if (this.ticking || this.opts.mayAct?.() === false) return;
    this.ticking = true;
    try {
      const obs = observe(this.view, now);
      const planOpts = { nodeDeadAfterMs: this.opts.nodeDeadAfterMs! };
      const decisions = planReconcile(obs, [...this.desired.values()], planOpts, this.inFlight);
      const dead = [...deadNodes(obs, planOpts).keys()];
      for (const d of decisions) {
        if (d.type === "failed") {
          const key = `${d.name}@${d.node}#${d.restarts}`;
          if (!this.reported.has(key)) {
            this.reported.add(key);
            this.opts.onEvent?.({ event: "failed", actor: d.name, node: d.node, restarts: d.restarts });
          }
          continue;
        }
        const r = this.retry.get(d.actor.name);
        if (r && r.at > now) continue;
        if (this.opts.mayAct?.() === false) return;
        await this.replace(d.actor, d.from, d.silentMs, dead);
      }
    } finally {
      this.ticking = false;
    }
  }

  private async replace(actor: DesiredActor, from: string | null, silentMs: number, dead: string[]): Promise<void> {
    this.inFlight.add(actor.name);
    try {
      // The dead agent's claim blocks the name: free it, then claim it anew on a live agent.
      if (from !== null) await this.registry.removeActor(actor.kind, actor.name);
      const [rec] = await placeActors(
        this.registry,
        { kind: actor.kind, count: 1, names: [actor.name], cpus: actor.cpus, gpus: actor.gpus, nodeSelector: actor.nodeSelector, avoidNodes: from === null ? dead : [...new Set([...dead, from])], configJson: actor.configJson, maxRestarts: actor.maxRestarts },
        this.opts.client,
      );
      this.retry.delete(actor.name);
      this.opts.onEvent?.({ event: "replaced", actor: actor.name, from, to: rec.node, afterMs: Number.isFinite(silentMs) ? Math.round(silentMs) : -1 });
    } catch (err) {
      const attempts = (this.retry.get(actor.name)?.attempts ?? 0) + 1;
      const delay = backoffMs(attempts, this.opts.backoffMs, this.opts.maxBackoffMs);
      this.retry.set(actor.name, { attempts, at: performance.now() + delay });
      this.opts.onEvent?.({ event: "placement-failed", actor: actor.name, from, error: (err as Error).message, retryInMs: delay });
    } finally {
      this.inFlight.delete(actor.name);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
