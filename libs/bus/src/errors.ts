// One error class per failure mode of the bus; each names what was wrong and what to do instead.
import { ClosedConnectionError, DrainingConnectionError } from "@nats-io/nats-core";

export class NatsServerError extends Error {
  override name = "NatsServerError";
}

export type DecodeFailure = "truncated" | "not-an-envelope" | "schema-version" | "wrong-kind" | "oversize" | "invalid";

/** A payload that cannot become the message its consumer expects. Never thrown past a consumer: dead-lettered. */
export class DecodeError extends Error {
  override name = "DecodeError";
  constructor(
    readonly failure: DecodeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The connection is closed or draining: it will never carry this call, so no retry can succeed. */
export function isConnectionGone(err: unknown): boolean {
  return err instanceof ClosedConnectionError || err instanceof DrainingConnectionError;
}
