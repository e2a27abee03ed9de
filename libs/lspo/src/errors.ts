// One error class per failure mode. Each message says what was wrong and what to do instead.

/** A sampler option is missing, unknown, of the wrong type or out of range. `option` names it. */
export class InvalidConfigError extends Error {
  override readonly name = "InvalidConfigError";
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/** A group offered to the sampler (or read from a file) is malformed. `field` names the field, e.g. `lengths[3]`. */
export class InvalidGroupError extends Error {
  override readonly name = "InvalidGroupError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A snapshot handed to `restore...` is not one this library wrote. `path` names the offending part. */
export class InvalidSnapshotError extends Error {
  override readonly name = "InvalidSnapshotError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Batch mode ran `rounds` generation rounds without filling a training batch (DAPO's
 * `max_num_gen_batches`): the data is probably too hard or too easy for the accuracy filter.
 */
export class GenRoundsExceededError extends Error {
  override readonly name = "GenRoundsExceededError";
  constructor(
    readonly rounds: number,
    readonly pending: number,
    readonly batchSize: number,
    readonly maxGenRounds: number,
  ) {
    super(
      `batch sampler: ${rounds} generation rounds kept only ${pending} of the ${batchSize} groups a training batch needs ` +
        `(maxGenRounds = ${maxGenRounds}). The prompts are probably all solved or all failed; check the data's difficulty, ` +
        `raise maxGenRounds, use a larger generation batch, or set maxGenRounds: 0 for no cap.`,
    );
  }
}
