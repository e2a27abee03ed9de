// A hot swap made durable: every swap the learner accepts is written to NATS KV (bucket `lspo-learner`, key
// `<runId>.swaps`) with the update step it takes effect at, before the SwapAlgorithm call answers. A learner
// restarted from a checkpoint at step c re-schedules every swap whose step is after c, so each lands on the
// same update as before the crash: the replayed updates train with the algorithm they trained with, and
// summary.json (the swap events) and the checkpoints (AlgorithmState) agree.
import { SerialQueue } from "@lspo/actors";
import { KV_BUCKETS, kvGet, kvPut, openKv, type NatsConnection } from "@lspo/bus";
import { resolveSpec, type AlgorithmSpec } from "@lspo/algos";

export const SWAP_LOG_BUCKET = KV_BUCKETS.learner;
const KIND = "AlgorithmSwapLog";

export interface SwapRecord {
  /** The update the swap takes effect at (its first step with the new spec). */
  effectiveStep: number;
  spec: AlgorithmSpec;
}

export class SwapLogError extends Error {
  override name = "SwapLogError";
}

/** Checks a stored log: each record's step and spec (re-validated: a log from an older build may not parse). */
export function readSwapLog(body: unknown, where: string): SwapRecord[] {
  const swaps = (body as { swaps?: unknown } | null)?.swaps;
  if (!Array.isArray(swaps)) throw new SwapLogError(`${where}: expected {swaps: [...]}, got ${JSON.stringify(body)?.slice(0, 80)}`);
  return swaps.map((r: { effectiveStep?: unknown; spec?: unknown }, i) => {
    if (!Number.isInteger(r?.effectiveStep) || (r.effectiveStep as number) < 1) {
      throw new SwapLogError(`${where}: swaps[${i}].effectiveStep must be an integer >= 1, got ${String(r?.effectiveStep)}`);
    }
    return { effectiveStep: r.effectiveStep as number, spec: resolveSpec(r.spec) };
  });
}

/** The swaps still to apply after resuming at update `step` (those taking effect later), in request order. */
export function swapsAfter(records: readonly SwapRecord[], step: number): SwapRecord[] {
  return records.filter((r) => r.effectiveStep > step);
}

export class SwapLog {
  private constructor(
    private readonly kv: Awaited<ReturnType<typeof openKv>>,
    private readonly key: string,
  ) {}

  static async open(nc: NatsConnection, runId: string, replicas = 1): Promise<SwapLog> {
    return new SwapLog(await openKv(nc, SWAP_LOG_BUCKET, { replicas }), `${runId}.swaps`);
  }

  async records(): Promise<SwapRecord[]> {
    const got = await kvGet<unknown>(this.kv, this.key, KIND);
    return got ? readSwapLog(got.value, `KV ${SWAP_LOG_BUCKET}/${this.key}`) : [];
  }

  /** Appends one accepted swap (one learner per run writes this key, so read-append-put is safe). */
  async append(r: SwapRecord): Promise<void> {
    const swaps = [...(await this.records()), r];
    await kvPut(this.kv, this.key, KIND, { swaps });
  }
}

/** The learner side of the log: what LearnerCore offers (kept structural so tests can use a fake). */
export interface SwapTarget {
  readonly step: number;
  scheduleSwap(step: number, spec: AlgorithmSpec): void;
}

/** What a live swap request needs of the learner. */
export interface SwapRequester {
  requestSwap(spec: { name: string; params?: Record<string, unknown> }): number;
  readonly algorithm: { readonly pending: AlgorithmSpec | null; requestSwap(spec: unknown): unknown; cancelSwap(): boolean };
}

/**
 * A live swap, durable before it is answered: validated and queued (throws naming the field), then logged
 * with its effective step. If the log cannot be written the queue is put back as it was (the earlier
 * pending swap, or none) and the error goes to the caller: a swap is either durable or not accepted.
 * Returns the record it logged. Alone it does not keep an update from applying the swap while the log is
 * being written: the learner goes through a SwapGate.
 */
export async function requestDurableSwap(core: SwapRequester, log: Pick<SwapLog, "append">, spec: { name: string; params?: Record<string, unknown> }): Promise<SwapRecord> {
  const before = core.algorithm.pending;
  const effectiveStep = core.requestSwap(spec);
  const record = { effectiveStep, spec: core.algorithm.pending! };
  try {
    await log.append(record);
  } catch (err) {
    if (before) core.algorithm.requestSwap(before);
    else core.algorithm.cancelSwap();
    throw err;
  }
  return record;
}

/**
 * Live swaps and the starts of updates take turns. A swap is pending (an update would apply it) from its
 * request until it is logged; an update that started in that window trained with a swap the log did not
 * yet hold (a crash there re-trains that step with the old algorithm), and the request, answering after
 * the update had taken the pending swap, found none. Two swaps logged at once could also lose one (the log
 * is read, appended to and put). So a swap waits for any update start or swap before it, and an update
 * starts only between swaps. An update holds its turn only while it starts: the algorithm an update trains
 * with is fixed in LearnerCore.update's synchronous start, so a swap waits for no update to finish.
 */
export class SwapGate {
  readonly #turns = new SerialQueue();

  constructor(
    private readonly core: SwapRequester,
    private readonly log: Pick<SwapLog, "append">,
  ) {}

  /** A live swap, once the swaps and update starts before it are done: the record it logged. */
  swap(spec: { name: string; params?: Record<string, unknown> }): Promise<SwapRecord> {
    return this.#turns.run(() => requestDurableSwap(this.core, this.log, spec));
  }

  /**
   * Runs `read` between swaps: what it reads of the algorithm holds only swaps already logged. A checkpoint
   * takes its AlgorithmState this way, so it never saves a pending swap whose write may yet fail (a swap the
   * caller was told is not accepted, applied after a restart from that checkpoint).
   */
  between<T>(read: () => T): Promise<T> {
    return this.#turns.run(async () => read());
  }

  /** Starts an update (`start` is called between swaps) and gives its promise. */
  async startUpdate<T>(start: () => Promise<T>): Promise<T> {
    const started = await this.between(() => {
      const p = start();
      p.catch(() => undefined); // the caller gets the rejection below, not the turn
      return { p };
    });
    return started.p;
  }
}

/** At start-up: re-schedules the logged swaps that take effect after the resumed step; returns the log. */
export async function resumeSwaps(core: SwapTarget, nc: NatsConnection, runId: string, replicas = 1): Promise<SwapLog> {
  const log = await SwapLog.open(nc, runId, replicas);
  for (const r of swapsAfter(await log.records(), core.step)) core.scheduleSwap(r.effectiveStep, r.spec);
  return log;
}
