// Run events over NATS (LSPO_EVENTS, `lspo.events.<run>.<kind>`): what an actor used to append to a file in
// the run directory (metrics records, the sampler's judgements, checkpoint manifests) and the ledger's
// records. On many hosts the run directory is the controller's disk, not the actor's: the controller reads
// these and keeps its own local copies. Bodies are plain JSON-like objects in the usual envelope.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { decodeEnvelope } from "./codec.js";
import { DecodeError } from "./errors.js";
import { publishMessage } from "./publish.js";
import { EVENT_KINDS, STREAMS, eventSubject, type EventKind } from "./subjects.js";

export type RunEvent = Record<string, unknown>;

export const validateRunEvent = (body: unknown): string | null =>
  typeof body === "object" && body !== null && !Array.isArray(body) && !(body instanceof Uint8Array) ? null : `RunEvent body should be an object, got ${Array.isArray(body) ? "array" : typeof body}`;

/** bigint fields (steps, versions from protobuf) as numbers: they fit, and the local JSONL copies need them so. */
function plain(body: RunEvent): RunEvent {
  return JSON.parse(JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))) as RunEvent;
}

/**
 * Publishes one event. `msgId` makes a retried publish (or a restarted actor replaying the same decision)
 * land once within the stream's duplicate window; without one, a retry could record the event twice.
 */
export async function publishEvent(js: JetStreamClient, runId: string, kind: EventKind, body: RunEvent, msgId?: string): Promise<number> {
  const ack = await publishMessage(js, eventSubject(runId, kind), "RunEvent", { time: new Date().toISOString(), ...plain(body) }, msgId ? { msgId } : {});
  return ack.seq;
}

export interface ReceivedEvent {
  seq: number;
  kind: EventKind;
  body: RunEvent;
}

export interface EventReader {
  stop(): Promise<void>;
  /** Resolves once every event published before the call has been handed to `onEvent`. */
  caughtUp(): Promise<void>;
}

/**
 * Reads a run's events in stream order from `fromSeq` (1 = all) with an ordered consumer (ephemeral, recreated
 * by the client on gaps or a server restart). A malformed event is reported to `onMalformed` and skipped: an
 * actor that publishes garbage must not stop the controller.
 */
export async function readEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  runId: string,
  fromSeq: number,
  onEvent: (e: ReceivedEvent) => void,
  onMalformed: (seq: number, reason: string) => void = () => undefined,
): Promise<EventReader> {
  const prefix = eventSubject(runId, "*").slice(0, -1);
  let lastSeq = fromSeq - 1;
  let stopped = false;
  let messages: Awaited<ReturnType<Awaited<ReturnType<typeof js.consumers.get>>["consume"]>> | null = null;
  const open = async () => {
    const next = lastSeq + 1;
    const consumer = await js.consumers.get(STREAMS.events.name, {
      filter_subjects: `${prefix}>`,
      ...(next > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: next } : { deliver_policy: DeliverPolicy.All }),
    });
    return consumer.consume();
  };
  messages = await open();
  // The ordered consumer recovers from gaps by itself, but a server crash or a long partition can end its
  // iterator (or make it throw): then a new one starts after the last event read, until stop().
  const done = (async () => {
    while (!stopped) {
      try {
        for await (const m of messages!) {
          lastSeq = m.seq;
          const kind = m.subject.slice(prefix.length) as EventKind;
          try {
            if (!EVENT_KINDS.includes(kind)) throw new DecodeError("invalid", `subject ${m.subject}: unknown event kind '${kind}' (known: ${EVENT_KINDS.join(", ")})`);
            const body = decodeEnvelope(m.data, "RunEvent").body;
            const problem = validateRunEvent(body);
            if (problem) throw new DecodeError("invalid", problem);
            onEvent({ seq: m.seq, kind, body: body as RunEvent });
          } catch (err) {
            onMalformed(m.seq, (err as Error).message);
          }
        }
      } catch {
        // the iterator failed: reopened below
      }
      while (!stopped) {
        await new Promise((r) => setTimeout(r, 500));
        try {
          if (!stopped) messages = await open();
          break;
        } catch {
          // NATS still away: try again
        }
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      messages?.stop();
      await done.catch(() => undefined);
    },
    async caughtUp() {
      const target = (await jsm.streams.info(STREAMS.events.name)).state.last_seq;
      const end = Date.now() + 60_000;
      // Only this run's subjects count: the stream's last message may be another run's, so compare against
      // the last sequence of this run's filter.
      const mine = await jsm.streams.getMessage(STREAMS.events.name, { last_by_subj: `${prefix}>` }).catch(() => null);
      const want = Math.min(target, mine?.seq ?? 0);
      let seen = lastSeq;
      let movedAt = Date.now();
      while (lastSeq < want) {
        if (Date.now() > end) throw new Error(`run events: read up to ${lastSeq} of ${want} within 60 s (is NATS reachable?)`);
        if (lastSeq !== seen) [seen, movedAt] = [lastSeq, Date.now()];
        // Behind and not moving for 5 s: a consumer that outlived a server restart without noticing. Ending
        // its iterator makes the loop above open a fresh one after the last event read.
        if (Date.now() - movedAt > 5000) {
          messages?.stop();
          movedAt = Date.now();
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** The run's newest event of `kind` (e.g. the latest checkpoint manifest), or null. */
export async function lastEvent(jsm: JetStreamManager, runId: string, kind: EventKind): Promise<ReceivedEvent | null> {
  const m = await jsm.streams.getMessage(STREAMS.events.name, { last_by_subj: eventSubject(runId, kind) }).catch(() => null);
  if (!m) return null;
  const body = decodeEnvelope(m.data, "RunEvent").body;
  const problem = validateRunEvent(body);
  if (problem) throw new DecodeError("invalid", `event ${m.seq} on ${m.subject}: ${problem}`);
  return { seq: m.seq, kind, body: body as RunEvent };
}
