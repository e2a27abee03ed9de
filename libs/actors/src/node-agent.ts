// The node agent (the raylet's role): one per machine. It advertises the machine's resources in the
// registry, starts actor processes on request with their share (CUDA_VISIBLE_DEVICES, threads), scales
// actors per GPU (`actorsPerGpu`), restarts crashed ones with exponential backoff up to `maxRestarts`
// (then marks them FAILED), and drains them on shutdown (SIGTERM, grace, SIGKILL). Actor names are claimed
// run-wide before a process starts (an atomic KV create), so two agents never both run `rollout-0`.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { hostname, availableParallelism } from "node:os";
import type { NatsConnection } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { ComponentState, NodeAgentServiceService, type ActorRecord, type FenceRequest, type Resources, type StartActorsRequest, type StopActorRequest } from "@lspo/proto";
import { status as grpcStatus } from "@grpc/grpc-js";
import { GrpcStatusError, startGrpcServer, unary, invalidArgument, type GrpcServerOptions, type RunningServer } from "./grpc-server.js";
import { ActorRegistry, HEARTBEAT_MS } from "./registry.js";
import { PlacementError } from "./errors.js";
import { checkNodeName } from "./registry-keys.js";
import { parseLabels } from "./labels.js";
import { lastErrorIn } from "./last-error.js";
import { AgentFence } from "./fence.js";

export interface LaunchSpec {
  kind: string;
  name: string;
  configJson: string;
}

/** How to start an actor process of a kind (the controller supplies this: libs never know service paths). */
export type ActorLauncher = (spec: LaunchSpec) => { command: string; args: string[]; env?: Record<string, string> };

export interface NodeAgentOptions extends GrpcServerOptions {
  /** The run this agent serves: its registry scope (run ids are [A-Za-z0-9_-]). */
  runId: string;
  /** Registry bucket replicas (config.nats.replicas). */
  replicas?: number;
  node?: string;
  /** What placement selectors match, e.g. { role: "rollout", zone: "a" }. */
  labels?: Record<string, string>;
  cpus?: number;
  gpuIds?: number[];
  /** Rollout actors sharing one GPU (each gets the same CUDA_VISIBLE_DEVICES). */
  actorsPerGpu?: number;
  launcher: ActorLauncher;
  /** First restart delay; doubles per restart up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Grace between SIGTERM and SIGKILL when stopping. */
  drainMs?: number;
  /** Where child output goes: inherited by default. */
  stdio?: "inherit" | "ignore";
  /** When set, each actor's stdout+stderr is appended to `<logDir>/<name>.log` (overrides stdio). */
  logDir?: string;
  /** When set, actor k on this node serves gRPC on portBase + k (Kubernetes: fixed, policy-visible ports);
   *  otherwise each actor takes a free port. */
  portBase?: number;
  /** How many ports from portBase the actors may use (the range a NetworkPolicy opens); default 64. */
  portCount?: number;
  /** When set, actor k serves its metrics registry as JSON on 127.0.0.1:metricsPortBase + k (the agent merges them). */
  metricsPortBase?: number;
  /** Actor kinds the launcher can start; StartActors refuses others (a typo would otherwise crash-loop). */
  kinds?: readonly string[];
  /** Who this agent is in the registry (its node key's owner token): its NATS user under the shipped
   *  per-identity permissions. Default "any". */
  identity?: string;
}

/** The most actors one StartActors request may start (a bound on what a bad request can spawn). */
export const MAX_ACTORS_PER_REQUEST = 256;
const NAME_RE = /^[A-Za-z0-9_-]+$/;

interface Supervised {
  spec: LaunchSpec;
  /** Its port offset: the lowest one no running actor of this agent holds (a stopped actor's is reused). */
  slot: number;
  maxRestarts: number;
  restarts: number;
  share: { cpus: number; gpuSlot: number | null };
  child: ChildProcess | null;
  state: ComponentState;
  stopping: boolean;
  timer: NodeJS.Timeout | null;
  /** The pid of the process that has written its own record (the agent then leaves the record to it). */
  registeredPid?: number;
}

/** Restarts of a name in one request before giving up on free indices (a bound, not a limit in practice). */
const MAX_NAME_PROBES = 10_000;

// Actor processes of every agent in this process: killed when it exits, so a controller that ends without
// draining (a crash, a test timing out) never leaves actors running against a dead run.
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) child.kill("SIGKILL");
});

export class NodeAgent implements AsyncDisposable {
  readonly node: string;
  private readonly actors = new Map<string, Supervised>();
  private server: RunningServer | null = null;
  private beat: NodeJS.Timeout | null = null;
  private readonly cpus: number;
  private readonly gpuSlots: number[];
  /** Which controller may still start and stop actors here (fence.ts). */
  readonly fence: AgentFence;

  private constructor(
    readonly registry: ActorRegistry,
    private readonly opts: NodeAgentOptions,
  ) {
    this.node = opts.node ?? process.env.LSPO_NODE_NAME ?? hostname();
    this.cpus = opts.cpus ?? availableParallelism();
    const perGpu = Math.max(1, opts.actorsPerGpu ?? 1);
    this.gpuSlots = (opts.gpuIds ?? []).flatMap((id) => Array.from({ length: perGpu }, () => id));
    this.fence = new AgentFence(`the agent on ${this.node}`);
  }

  static async start(nc: NatsConnection, opts: NodeAgentOptions): Promise<NodeAgent> {
    if (!opts.runId) throw new Error("NodeAgent.start: runId is required (it scopes the registry: two runs on one NATS must not see each other)");
    for (const [k, v] of Object.entries(opts.labels ?? {})) parseLabels(`${k}=${v}`, "NodeAgent.start: labels");
    const agent = new NodeAgent(await ActorRegistry.open(nc, { runId: opts.runId, replicas: opts.replicas, identity: opts.identity }), opts);
    checkNodeName(agent.node, "NodeAgent node (LSPO_NODE_NAME or the host name)");
    agent.server = await startGrpcServer(
      [
        {
          name: "lspo.v1.NodeAgentService",
          definition: NodeAgentServiceService,
          // Starting and stopping processes change state: they need the control token when one is set, and
          // the calling controller's fencing token once one has fenced this agent (fence.ts).
          protectedMethods: ["startActors", "stopActor", "fence"],
          implementation: {
            startActors: unary(async (req: StartActorsRequest) => {
              try {
                return { actors: await agent.fence.run("StartActors", req.fencingToken, () => agent.startActors(req)) };
              } catch (err) {
                // A valid request this node cannot fit: the caller may try another node.
                if (err instanceof PlacementError) throw new GrpcStatusError(grpcStatus.RESOURCE_EXHAUSTED, err.message);
                throw err;
              }
            }),
            stopActor: unary(async (req: StopActorRequest) => {
              if (!req.name) throw invalidArgument("name", "is empty");
              return { actor: await agent.fence.run("StopActor", req.fencingToken, () => agent.stopActor(req.name)) };
            }),
            fence: unary(async (req: FenceRequest) => ({ fence: await agent.fence.raise(req.fencingToken) })),
            listActors: unary(async () => ({ actors: agent.list() })),
          },
        },
      ],
      opts,
    );
    await agent.advertise();
    agent.beat = setInterval(() => void agent.heartbeat().catch(() => undefined), HEARTBEAT_MS);
    agent.beat.unref();
    return agent;
  }

  get address(): string {
    return this.server!.address;
  }

  private allocated(): { cpus: number; gpuSlots: number } {
    let cpus = 0;
    let gpuSlots = 0;
    for (const a of this.actors.values()) {
      if (a.state === ComponentState.COMPONENT_STATE_STOPPED || a.state === ComponentState.COMPONENT_STATE_FAILED) continue;
      cpus += a.share.cpus;
      if (a.share.gpuSlot !== null) gpuSlots++;
    }
    return { cpus, gpuSlots };
  }

  private async advertise(): Promise<void> {
    const used = this.allocated();
    await this.registry.putNode({
      node: this.node,
      agentAddress: this.server!.address,
      capacity: { cpus: this.cpus, gpuIds: [...new Set(this.gpuSlots)], gpus: this.gpuSlots.length, memoryBytes: 0n },
      allocated: { cpus: used.cpus, gpuIds: [], gpus: used.gpuSlots, memoryBytes: 0n },
      actorsPerGpu: Math.max(1, this.opts.actorsPerGpu ?? 1),
      runId: this.registry.runId,
      labels: { ...this.opts.labels },
    });
  }

  /**
   * Every HEARTBEAT_MS: the node record, and the records of actors that cannot write their own: FAILED
   * ones (kept visible while the run is on, not left to expire silently) and ones whose process has not
   * registered yet (a slow start must not lose its claim to the bucket's TTL). A compare-and-set on the
   * revision read, so an actor's own first write is never overwritten.
   */
  private async heartbeat(): Promise<void> {
    await this.advertise();
    for (const sup of this.actors.values()) {
      if (sup.stopping || sup.state === ComponentState.COMPONENT_STATE_STOPPED) continue;
      // Once this process has registered itself it keeps its own record: no read per heartbeat after that.
      if (sup.child && sup.registeredPid === sup.child.pid) continue;
      const now = await this.registry.getActor(sup.spec.kind, sup.spec.name);
      const selfWritten = now && now.record.grpcAddress !== "" && sup.child && now.record.pid === sup.child.pid;
      if (selfWritten) {
        sup.registeredPid = sup.child!.pid!;
        continue;
      }
      await this.keepClaim(sup, now);
    }
  }

  /**
   * Writes the agent's record for an actor (compare-and-set), unless the name now belongs to another node:
   * a reconciler re-placed it while this agent was cut off. Then this agent lets it go (no restart, no
   * more writes). Returns whether the agent still holds the name.
   */
  private async keepClaim(sup: Supervised, now?: { record: ActorRecord; revision: number } | null): Promise<boolean> {
    now ??= await this.registry.getActor(sup.spec.kind, sup.spec.name);
    if (now && now.record.node !== this.node) {
      sup.stopping = true;
      if (sup.timer) {
        // A restart scheduled when the actor exited (it saw the hand-over before this agent did) never runs:
        // it is not counted.
        clearTimeout(sup.timer);
        sup.restarts--;
      }
      sup.timer = null;
      sup.state = ComponentState.COMPONENT_STATE_STOPPED;
      process.stderr.write(`[agent ${this.node}] ${sup.spec.name} now runs on ${now.record.node}: no longer supervised here\n`);
      sup.child?.kill("SIGTERM");
      return false;
    }
    const written = now ? await this.registry.updateActor(this.claimOf(sup), now.revision) : await this.registry.claimActor(this.claimOf(sup));
    // Lost a race with another writer: look again next heartbeat.
    return written !== null || (await this.registry.getActor(sup.spec.kind, sup.spec.name))?.record.node === this.node;
  }

  /** The record the agent writes for an actor: no address (its process writes that itself). */
  private claimOf(sup: Supervised): ActorRecord {
    const state = sup.state === ComponentState.COMPONENT_STATE_RUNNING ? ComponentState.COMPONENT_STATE_STARTING : sup.state;
    return { ...this.recordOf(sup), state, grpcAddress: "", runId: this.registry.runId };
  }

  private freeGpuSlot(): number | null {
    const taken = new Map<number, number>();
    for (const a of this.actors.values()) {
      if (a.share.gpuSlot === null || a.state === ComponentState.COMPONENT_STATE_STOPPED || a.state === ComponentState.COMPONENT_STATE_FAILED) continue;
      taken.set(a.share.gpuSlot, (taken.get(a.share.gpuSlot) ?? 0) + 1);
    }
    for (const id of new Set(this.gpuSlots)) {
      const capacity = this.gpuSlots.filter((g) => g === id).length;
      if ((taken.get(id) ?? 0) < capacity) return id;
    }
    return null;
  }

  /** Every field of a StartActors request, checked before anything starts; errors name the field. */
  private checkStart(req: StartActorsRequest): void {
    const kinds = this.opts.kinds;
    if (!req.kind) throw invalidArgument("kind", `is empty${kinds ? `; valid: ${kinds.join(", ")}` : ""}`);
    if (kinds && !kinds.includes(req.kind)) throw invalidArgument("kind", `unknown actor kind '${req.kind}'; valid: ${kinds.join(", ")}`);
    if (!Number.isInteger(req.count) || req.count < 1 || req.count > MAX_ACTORS_PER_REQUEST) {
      throw invalidArgument("count", `must be an integer in [1, ${MAX_ACTORS_PER_REQUEST}], got ${req.count}`);
    }
    // Names become log file names and registry keys: no path separators, no dots.
    if (req.namePrefix && !NAME_RE.test(req.namePrefix)) throw invalidArgument("namePrefix", `'${req.namePrefix}' may contain only letters, digits, '_' and '-'`);
    const names = req.names ?? [];
    if (names.length > 0) {
      if (names.length !== req.count) throw invalidArgument("names", `${names.length} names given for count ${req.count}: give one name per actor`);
      names.forEach((n, i) => {
        if (!NAME_RE.test(n)) throw invalidArgument(`names[${i}]`, `'${n}' may contain only letters, digits, '_' and '-'`);
      });
      if (new Set(names).size !== names.length) throw invalidArgument("names", `duplicates in ${names.join(", ")}`);
    }
    const { cpus = 0, gpus = 0 } = req.perActor ?? {};
    if (!Number.isFinite(cpus) || cpus < 0) throw invalidArgument("perActor.cpus", `must be a finite number >= 0, got ${cpus}`);
    if (!Number.isInteger(gpus) || gpus < 0) throw invalidArgument("perActor.gpus", `must be an integer >= 0, got ${gpus}`);
    if (!Number.isInteger(req.maxRestarts) || req.maxRestarts < -1) throw invalidArgument("maxRestarts", `must be an integer >= -1 (-1 = unlimited), got ${req.maxRestarts}`);
    try {
      resolveConfig(JSON.parse(req.configJson || "{}"), [], "configJson");
    } catch (err) {
      throw invalidArgument("configJson", (err as Error).message);
    }
  }

  async startActors(req: StartActorsRequest): Promise<ActorRecord[]> {
    this.checkStart(req);
    const cpus = req.perActor?.cpus ?? 0;
    const gpus = req.perActor?.gpus ?? 0;
    const used = this.allocated();
    const freeGpu = this.gpuSlots.length - used.gpuSlots;
    if (used.cpus + cpus * req.count > this.cpus + 1e-9 || (gpus > 0 && freeGpu < req.count)) {
      throw new PlacementError(
        `node ${this.node}: asked for ${req.count} x {cpus: ${cpus}, gpus: ${gpus}} (${req.kind}); free: ${this.cpus - used.cpus} cpus, ${freeGpu} GPU slots`,
      );
    }
    const prefix = req.namePrefix || req.kind;
    const out: ActorRecord[] = [];
    let n = 0;
    for (let i = 0; i < req.count; i++) {
      const sup: Supervised = {
        spec: { kind: req.kind, name: "", configJson: req.configJson },
        slot: this.freeSlot(),
        maxRestarts: req.maxRestarts,
        restarts: 0,
        share: { cpus, gpuSlot: gpus > 0 ? this.freeGpuSlot() : null },
        child: null,
        state: ComponentState.COMPONENT_STATE_STARTING,
        stopping: false,
        timer: null,
      };
      sup.spec.name = await this.claimName(sup, req.names?.[i], prefix, () => n++);
      this.actors.set(sup.spec.name, sup);
      this.launch(sup);
      out.push(this.recordOf(sup));
    }
    await this.advertise();
    return out;
  }

  /** The lowest port offset no live actor holds; past portCount the request is refused (no port to give). */
  private freeSlot(): number {
    const gone = (a: Supervised) => a.state === ComponentState.COMPONENT_STATE_STOPPED || a.state === ComponentState.COMPONENT_STATE_FAILED;
    const taken = new Set([...this.actors.values()].filter((a) => !gone(a)).map((a) => a.slot));
    let slot = 0;
    while (taken.has(slot)) slot++;
    const count = this.opts.portCount ?? 64;
    if (this.opts.portBase && slot >= count) {
      throw new PlacementError(`node ${this.node}: all ${count} actor ports ${this.opts.portBase}-${this.opts.portBase + count - 1} are taken`);
    }
    return slot;
  }

  /** Every running actor's metrics port (the agent's /metrics merges them). */
  metricsPorts(): number[] {
    const base = this.opts.metricsPortBase;
    if (!base) return [];
    return [...this.actors.values()].filter((a) => a.child).map((a) => base + a.slot);
  }

  /**
   * Claims the actor's name in the run's registry before its process starts: the explicit name (taken:
   * ALREADY_EXISTS), or the first free `<prefix>-<n>` run-wide. A name this agent held for a stopped actor
   * is reused only once its key is gone.
   */
  private async claimName(sup: Supervised, explicit: string | undefined, prefix: string, nextIndex: () => number): Promise<string> {
    const claim = (name: string) => {
      sup.spec.name = name;
      return this.registry.claimActor(this.claimOf(sup));
    };
    if (explicit) {
      const live = this.actors.get(explicit);
      if ((live && live.state !== ComponentState.COMPONENT_STATE_STOPPED) || (await claim(explicit)) === null) {
        throw new GrpcStatusError(grpcStatus.ALREADY_EXISTS, `names: actor '${explicit}' is already claimed in run '${this.registry.runId}' (delete its record before re-placing it)`);
      }
      return explicit;
    }
    for (let probes = 0; probes < MAX_NAME_PROBES; probes++) {
      const name = `${prefix}-${nextIndex()}`;
      const mine = this.actors.get(name);
      if (mine && mine.state !== ComponentState.COMPONENT_STATE_STOPPED) continue;
      if ((await claim(name)) !== null) return name;
    }
    throw new PlacementError(`node ${this.node}: no free name '${prefix}-<n>' in run '${this.registry.runId}' after ${MAX_NAME_PROBES} tries`);
  }

  private launch(sup: Supervised): void {
    const { command, args, env } = this.opts.launcher(sup.spec);
    const threads = Math.max(1, Math.floor(sup.share.cpus || 1));
    let stdio: "inherit" | "ignore" | ["ignore", number, number] = this.opts.stdio ?? "inherit";
    if (this.opts.logDir) {
      mkdirSync(this.opts.logDir, { recursive: true });
      const fd = openSync(join(this.opts.logDir, `${sup.spec.name}.log`), "a");
      stdio = ["ignore", fd, fd];
    }
    const child = spawn(command, args, {
      stdio,
      env: {
        ...process.env,
        ...env,
        LSPO_ACTOR_NAME: sup.spec.name,
        LSPO_ACTOR_KIND: sup.spec.kind,
        LSPO_ACTOR_CONFIG: sup.spec.configJson,
        LSPO_ACTOR_RESTARTS: String(sup.restarts),
        LSPO_NODE_NAME: this.node,
        LSPO_RUN_ID: this.registry.runId,
        // The actor exits when this process is gone (SIGKILL leaves no chance to stop it): parent-watch.ts.
        LSPO_AGENT_PID: String(process.pid),
        LSPO_THREADS: String(threads),
        LSPO_GRPC_PORT: this.opts.portBase ? String(this.opts.portBase + sup.slot) : "0",
        // The agent's own health and metrics ports are its, not the actor's.
        LSPO_HEALTH_PORT: "",
        LSPO_METRICS_PORT: this.opts.metricsPortBase ? String(this.opts.metricsPortBase + sup.slot) : "",
        LSPO_METRICS_HOST: "127.0.0.1",
        ...(sup.share.gpuSlot !== null ? { CUDA_VISIBLE_DEVICES: String(sup.share.gpuSlot) } : {}),
      },
    });
    if (Array.isArray(stdio)) closeSync(stdio[1]);
    sup.child = child;
    sup.state = ComponentState.COMPONENT_STATE_RUNNING;
    liveChildren.add(child);
    child.once("exit", (code, signal) => {
      liveChildren.delete(child);
      this.onExit(sup, child, code, signal);
    });
    child.once("error", () => undefined); // reported through 'exit'
  }

  private onExit(sup: Supervised, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (sup.child !== child) return;
    sup.child = null;
    if (sup.stopping) {
      sup.state = ComponentState.COMPONENT_STATE_STOPPED;
      return;
    }
    const why = this.whyExited(sup, code);
    const unlimited = sup.maxRestarts < 0;
    if (!unlimited && sup.restarts >= sup.maxRestarts) {
      sup.state = ComponentState.COMPONENT_STATE_FAILED;
      void this.keepClaim(sup)
        .then(() => this.advertise())
        .catch(() => undefined);
      process.stderr.write(`[agent ${this.node}] ${sup.spec.name} exited (code ${code}, signal ${signal}) after ${sup.restarts} restarts: FAILED${why}\n`);
      return;
    }
    sup.restarts++;
    const delay = Math.min(this.opts.maxBackoffMs ?? 10_000, (this.opts.backoffMs ?? 200) * 2 ** (sup.restarts - 1));
    sup.state = ComponentState.COMPONENT_STATE_STARTING;
    process.stderr.write(`[agent ${this.node}] ${sup.spec.name} exited (code ${code}, signal ${signal}): restart ${sup.restarts} in ${delay} ms${why}\n`);
    sup.timer = setTimeout(() => {
      sup.timer = null;
      if (!sup.stopping) this.launch(sup);
    }, delay);
    // Its address is dead: handles must stop dialing it now, not when the record goes stale. If the name
    // went to another node meanwhile, keepClaim cancels the restart. NATS away: restart anyway.
    void this.keepClaim(sup).catch(() => undefined);
  }

  /**
   * For an actor that exited on its own with an error code: its log's last error, to follow the exit line
   * ("" when there is no log file, or it tells none). A signal's exit was someone else's doing.
   */
  private whyExited(sup: Supervised, code: number | null): string {
    if (!this.opts.logDir || code === null || code === 0) return "";
    const reason = lastErrorIn(join(this.opts.logDir, `${sup.spec.name}.log`));
    return reason ? ` (its last error: ${reason})` : "";
  }

  private recordOf(sup: Supervised): ActorRecord {
    return {
      name: sup.spec.name,
      kind: sup.spec.kind,
      node: this.node,
      pid: sup.child?.pid ?? 0,
      grpcAddress: "",
      state: sup.state,
      restarts: sup.restarts,
      runId: this.registry.runId,
      resources: {
        cpus: sup.share.cpus,
        gpuIds: sup.share.gpuSlot === null ? [] : [sup.share.gpuSlot],
        gpus: sup.share.gpuSlot === null ? 0 : 1,
        memoryBytes: 0n,
      } satisfies Resources,
    };
  }

  list(): ActorRecord[] {
    return [...this.actors.values()].map((s) => this.recordOf(s));
  }

  /** The pid of a running actor (fault-injection tests kill it). */
  pidOf(name: string): number | null {
    return this.actors.get(name)?.child?.pid ?? null;
  }

  async stopActor(name: string): Promise<ActorRecord> {
    const sup = this.actors.get(name);
    // NOT_FOUND, not a bad request: a record can outlive its actor here (this agent restarted), and a caller
    // stopping what the registry lists takes this answer as "gone already".
    if (!sup) throw new GrpcStatusError(grpcStatus.NOT_FOUND, `name: no actor '${name}' on node ${this.node}; actors: ${[...this.actors.keys()].join(", ") || "none"}`);
    await this.terminate(sup);
    await this.releaseName(sup.spec.kind, name).catch(() => undefined);
    await this.advertise().catch(() => undefined);
    return this.recordOf(sup);
  }

  private async terminate(sup: Supervised): Promise<void> {
    sup.stopping = true;
    if (sup.timer) clearTimeout(sup.timer);
    const child = sup.child;
    if (!child) {
      sup.state = ComponentState.COMPONENT_STATE_STOPPED;
      return;
    }
    sup.state = ComponentState.COMPONENT_STATE_DRAINING;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), this.opts.drainMs ?? 10_000);
    await exited;
    clearTimeout(timer);
    sup.state = ComponentState.COMPONENT_STATE_STOPPED;
  }

  /** Deletes an actor's key when this node still holds it (a name handed to another node stays theirs). */
  private async releaseName(kind: string, name: string): Promise<void> {
    const now = await this.registry.getActor(kind, name);
    if (now && now.record.node === this.node) await this.registry.removeActor(kind, name);
  }

  /** Drains every actor (SIGTERM, grace, SIGKILL) and stops serving. */
  async stop(): Promise<void> {
    this.stopped ??= this.drain();
    return this.stopped;
  }

  private stopped: Promise<void> | null = null;

  private async drain(): Promise<void> {
    if (this.beat) clearInterval(this.beat);
    await Promise.all([...this.actors.values()].map((s) => this.terminate(s)));
    // Released names and a node that no longer takes work: a reconciler need not wait for the TTL. Best effort,
    // and bounded: with NATS away or its store lost, each KV call retries for 30 s, and the records expire anyway.
    await settleWithin(REGISTRY_CLEANUP_MS, async () => {
      await Promise.all([...this.actors.values()].map((s) => this.releaseName(s.spec.kind, s.spec.name).catch(() => undefined)));
      await this.registry.removeNode(this.node).catch(() => undefined);
    });
    this.registry.close();
    await this.server?.stop();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** How long an agent that stops spends removing its records from the registry. */
const REGISTRY_CLEANUP_MS = 5_000;

/** Runs `fn`, waiting at most `ms` for it (it may go on in the background); never throws. */
async function settleWithin(ms: number, fn: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([fn().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
