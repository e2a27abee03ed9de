// The controller's view of the run's events (LSPO_EVENTS): what the actors report, wherever they run. Every
// event is kept in memory for the loop, progress and summary, and copied into the controller's own run
// directory where users expect it: metrics.jsonl (metrics records, evaluations, checkpoint manifests),
// sampler.jsonl (the sampler's judgements) and events.jsonl (every event as it came, with its stream
// sequence: what a resumed controller rebuilds the ledger from, even when the run's NATS store is gone).
// Nothing here reads a file another process wrote.
import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { publishEvent, readEvents, type EventKind, type EventReader, type JetStreamClient, type JetStreamManager, type RunEvent } from "@lspo/bus";
import { STREAMS, eventSubject } from "@lspo/bus";
import type { MetricRecord } from "@lspo/telemetry";
import { createLogger } from "@lspo/telemetry";
import { readJsonl } from "./jsonl.js";
import { Ledger, applyEvent, judgementsOf } from "./ledger.js";

const log = createLogger("controller");

export interface DeadLetterNote {
  stream: string;
  seq: number;
  subject: string;
  error: string;
  uids: string[];
  consumer: string | null;
  deliveries: number | null;
}

interface Stored {
  seq: number;
  kind: EventKind;
  body: RunEvent;
}

export class RunEvents {
  readonly records: MetricRecord[] = [];
  readonly judged: Array<{ uid?: string; length: number; outcome: string }> = [];
  readonly ledger = new Ledger();
  readonly deadLetters: DeadLetterNote[] = [];
  /** The newest checkpoint manifest (the learner's `checkpoint` event). */
  lastCheckpoint: RunEvent | null = null;
  malformed = 0;
  private reader: EventReader | null = null;
  private lastSeq = 0;
  private readonly paths: { metrics: string; sampler: string; events: string };

  private constructor(
    private readonly js: JetStreamClient,
    private readonly runId: string,
    dir: string,
    /** Told of each checkpoint manifest read from NATS (not those of the local copy: they were told before). */
    private readonly onCheckpoint?: (manifest: RunEvent) => void,
  ) {
    mkdirSync(dir, { recursive: true });
    this.paths = { metrics: join(dir, "metrics.jsonl"), sampler: join(dir, "sampler.jsonl"), events: join(dir, "events.jsonl") };
  }

  /**
   * Loads the controller's local copy (a resumed run), then reads what it has not seen from NATS. When the
   * stream holds fewer of this run's events than the copy (NATS started afresh), it is read from its start.
   */
  static async open(js: JetStreamClient, jsm: JetStreamManager, runId: string, dir: string, onCheckpoint?: (manifest: RunEvent) => void): Promise<RunEvents> {
    const e = new RunEvents(js, runId, dir, onCheckpoint);
    const local = existsSync(e.paths.events) ? readJsonl<Stored>(e.paths.events) : [];
    for (const s of local) e.absorb(s, false);
    const localLast = local.length ? local[local.length - 1].seq : 0;
    const streamLast = (await jsm.streams.getMessage(STREAMS.events.name, { last_by_subj: `${eventSubject(runId, "*").slice(0, -1)}>` }).catch(() => null))?.seq ?? 0;
    const from = streamLast >= localLast ? localLast + 1 : 1;
    e.reader = await readEvents(js, jsm, runId, from, (ev) => e.absorb(ev, true), (seq, reason) => {
      e.malformed++;
      log.warn({ seq, reason }, "skipped a malformed run event");
    });
    return e;
  }

  private absorb(ev: Stored, fresh: boolean): void {
    this.lastSeq = Math.max(this.lastSeq, ev.seq);
    const body = ev.body;
    applyEvent(this.ledger, ev.kind, body);
    if (ev.kind === "metric" || ev.kind === "eval" || ev.kind === "checkpoint") {
      const { sampler: _s, samplerParts: _p, samplerState: _r, cursor: _c, ...rest } = body;
      // A checkpoint manifest's sampler state and cursor are for resume (events.jsonl), not for metrics.jsonl
      // (`sampler` and `samplerParts`: its inline form in manifests of older lspo).
      const rec = (ev.kind === "checkpoint" ? { ...rest, event: "checkpoint" } : ev.kind === "eval" ? { event: "eval", ...body } : body) as MetricRecord;
      this.records.push(rec);
      if (fresh) appendFileSync(this.paths.metrics, JSON.stringify(rec) + "\n");
    }
    if (ev.kind === "checkpoint") {
      this.lastCheckpoint = body;
      if (fresh) this.onCheckpoint?.(body);
    }
    if (ev.kind === "judged") {
      const judged = judgementsOf(body);
      this.judged.push(...judged);
      if (fresh && judged.length > 0) appendFileSync(this.paths.sampler, judged.map((j) => JSON.stringify(j) + "\n").join(""));
    }
    if (ev.kind === "ledger" && body.type === "dropped" && body.reason === "dead-letter") {
      const note: DeadLetterNote = {
        stream: String(body.stream ?? "?"), seq: Number(body.seq ?? 0), subject: String(body.subject ?? "?"), error: String(body.error ?? "?"),
        uids: Array.isArray(body.uids) ? body.uids.map(String) : [], consumer: body.consumer == null ? null : String(body.consumer),
        deliveries: body.deliveries == null ? null : Number(body.deliveries),
      };
      this.deadLetters.push(note);
      if (fresh) log.error(note, `message ${note.stream}#${note.seq} dead-lettered: ${note.error}`);
    }
    if (fresh) appendFileSync(this.paths.events, JSON.stringify(ev) + "\n");
  }

  /** Publishes one of the controller's own records; it reaches the local copies through the reader, like any other. */
  publish(kind: EventKind, body: RunEvent, msgId?: string): Promise<number> {
    return publishEvent(this.js, this.runId, kind, body, msgId);
  }

  /** Waits until every event published so far has been absorbed. */
  async caughtUp(): Promise<void> {
    await this.reader?.caughtUp();
  }

  lastUpdate(): MetricRecord | null {
    for (let i = this.records.length - 1; i >= 0; i--) if (this.records[i].event === "update") return this.records[i];
    return null;
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
    this.reader = null;
  }

  /** A one-line description of the dead letters so far, for error messages. */
  describeDeadLetters(max = 3): string {
    if (this.deadLetters.length === 0) return "";
    const shown = this.deadLetters.slice(0, max).map((d) => `${d.stream}#${d.seq} (${d.subject}${d.uids.length ? `, uids ${d.uids.slice(0, 4).join(",")}` : ""}): ${d.error}`);
    return `${this.deadLetters.length} dead-lettered message(s): ${shown.join("; ")}`;
  }
}
