// The rollout actors' own counters during a `lspo train` run in another process: the run directory's run.json
// names its NATS, the registry the actors, and their Status reports tokens (response tokens of the groups
// they published) and generateSeconds (time inside generation, the prompt's prefill included). Polled every
// POLL_MS; a reading is kept only when no generation is in hand (promptsInHand 0), so tokens and seconds
// cover the same generations. The run's records hold neither (metrics.jsonl has the learner's updates).
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { connectBus } from "@lspo/bus";
import { RolloutServiceService } from "@lspo/proto";

const POLL_MS = 2000;

export interface RolloutCounters {
  groups: number;
  responses: number;
  tokens: number;
  generateSeconds: number;
  syncSeconds: number;
  policyVersion: number;
}

export class RolloutCounterPoller {
  /** Per actor name, the last reading taken between generations. */
  readonly last: Record<string, RolloutCounters> = {};
  /** Each reading whose group count moved, with its time (ms since the poller started): shows the generations. */
  readonly history: Array<{ actor: string; ms: number; groups: number; tokens: number; generateSeconds: number }> = [];
  private readonly t0 = Date.now();
  private stopping = false;
  private readonly done: Promise<void>;

  /** `startedMs`: when the run started (Date.now()); a run.json older than that is an earlier run's. */
  constructor(private readonly runDir: string, private readonly startedMs: number) {
    this.done = this.loop().catch((err: Error) => console.warn(`rollout counters: ${err.message}`));
  }

  private async loop(): Promise<void> {
    const runJson = join(this.runDir, "run.json");
    const fresh = () => existsSync(runJson) && statSync(runJson).mtimeMs >= this.startedMs;
    while (!this.stopping && !fresh()) await sleep(500);
    if (this.stopping) return;
    const { natsUrl, runId } = JSON.parse(readFileSync(runJson, "utf8")) as { natsUrl: string; runId: string };
    const nc = await connectBus({ url: natsUrl, name: "bench-model-scale", waitForServerMs: 30_000 });
    const registry = await ActorRegistry.open(nc, { runId });
    const handle = actorHandle(registry, RolloutServiceService, "rollout");
    try {
      while (!this.stopping) {
        const r = await handle.call.status({}, { deadlineMs: 5000 }).catch(() => null);
        const s = r?.status;
        const c = s?.counters as (Partial<RolloutCounters> & { promptsInHand?: number }) | undefined;
        if (s && c && !c.promptsInHand) {
          if ((c.groups ?? 0) !== (this.last[s.name]?.groups ?? 0)) {
            this.history.push({ actor: s.name, ms: Date.now() - this.t0, groups: c.groups ?? 0, tokens: c.tokens ?? 0, generateSeconds: c.generateSeconds ?? 0 });
          }
          this.last[s.name] = {
            groups: c.groups ?? 0, responses: c.responses ?? 0, tokens: c.tokens ?? 0, generateSeconds: c.generateSeconds ?? 0,
            syncSeconds: c.syncSeconds ?? 0, policyVersion: c.policyVersion ?? 0,
          };
        }
        await sleep(POLL_MS);
      }
    } finally {
      handle.close();
      await Promise.race([nc.close().catch(() => undefined), sleep(2000)]);
    }
  }

  async stop(): Promise<Record<string, RolloutCounters>> {
    this.stopping = true;
    await this.done;
    return this.last;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
