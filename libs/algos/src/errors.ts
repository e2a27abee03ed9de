// One error class per failure mode. Messages say what was wrong and what is valid instead.

/** A registry lookup named something that is not registered. */
export class UnknownNameError extends Error {
  override readonly name = "UnknownNameError";
  constructor(
    readonly registry: string,
    readonly requested: string,
    readonly valid: readonly string[],
  ) {
    super(`unknown ${registry} '${requested}'; valid: ${valid.join(", ") || "(none registered)"}`);
  }
}

/** A name was registered twice in the same registry. */
export class DuplicateNameError extends Error {
  override readonly name = "DuplicateNameError";
  constructor(
    readonly registry: string,
    readonly duplicate: string,
  ) {
    super(`${registry} '${duplicate}' is already registered; pick another name`);
  }
}

/** One problem with one field of an algorithm spec; `field` is the dotted path, e.g. `params.clip_low`. */
export interface SpecIssue {
  field: string;
  problem: string;
}

/** An algorithm spec (or an override of one field) failed validation. Lists every problem found. */
export class InvalidSpecError extends Error {
  override readonly name = "InvalidSpecError";
  constructor(readonly issues: readonly SpecIssue[]) {
    super(`invalid algorithm spec: ${issues.map((i) => `${i.field}: ${i.problem}`).join("; ")}`);
  }

  /** The first offending field. */
  get field(): string {
    return this.issues[0]?.field ?? "spec";
  }
}

/** A rollout batch handed to the loss is malformed. `path` points at the bad value, e.g. `groups[1].responses[0].logp_old`. */
export class InvalidBatchError extends Error {
  override readonly name = "InvalidBatchError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`invalid batch: ${path}: ${problem}`);
  }
}

/** Hot-swap protocol misuse (e.g. update steps that do not increase). */
export class SwapProtocolError extends Error {
  override readonly name = "SwapProtocolError";
}

/**
 * The loss or its gradient came out NaN or infinite. `where` names the response (by group when the caller
 * knows the groups: `groups[2].responses[0]`), `token` the position, `quantity` what was non-finite.
 */
export class NonFiniteLossError extends Error {
  override readonly name = "NonFiniteLossError";
  constructor(
    readonly where: string,
    readonly token: number,
    readonly quantity: "loss" | "gradient",
    readonly value: number,
  ) {
    super(
      `non-finite ${quantity} (${value}) at ${where} token ${token}: check its logp, logp_old and logp_ref ` +
        "(a log-ratio beyond log_ratio_clamp, or a KL term that overflows)",
    );
  }
}
