// One error class per failure mode of the dataset layer, each naming the file and, for a bad row, the row.

export class DatasetError extends Error {
  override readonly name = "DatasetError";
  constructor(
    readonly file: string,
    /** 1-based row (JSONL: the line number), or undefined for a problem with the whole file. */
    readonly row: number | undefined,
    what: string,
    options?: ErrorOptions,
  ) {
    super(`${file}${row === undefined ? "" : `: row ${row}`}: ${what}`, options);
  }
}

export class DatasetConfigError extends Error {
  override readonly name = "DatasetConfigError";
}
