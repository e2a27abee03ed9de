// One error class per failure mode of the bus; each names what was wrong and what to do instead.

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
