// `lspo <command> <subcommand> [flags]` for the commands that have subcommands (algo, sampler): the usage
// when none is given or on --help, the valid ones on an unknown one, and a mistake of the user's as one line
// naming the subcommand instead of a stack trace. Exit codes: 0 done or help, 1 bad input, 2 bad usage.

/** A flag or argument the user got wrong: exit code 2, like parseArgs's own errors (ERR_PARSE_ARGS_*). */
export class UsageError extends Error {}

export interface Subcommands {
  /** The command's name after `lspo`, for the messages. */
  command: string;
  usage: string;
  handlers: Record<string, (argv: string[]) => Promise<number>>;
  /** Errors that mean bad input (a file's content, a spec): reported with exit code 1, as is a missing file.
   *  Anything else is a bug and is thrown. */
  inputErrors: ReadonlyArray<abstract new (...args: never[]) => Error>;
}

export async function runSubcommand(argv: string[], { command, usage, handlers, inputErrors }: Subcommands): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(usage);
    return sub === undefined ? 2 : 0;
  }
  const handler = handlers[sub];
  if (!handler) {
    console.error(`lspo ${command}: unknown subcommand '${sub}'; valid: ${Object.keys(handlers).join(", ")}`);
    return 2;
  }
  try {
    return await handler(rest);
  } catch (e) {
    // parseArgs errors (unknown flag, missing value) name the flag; ours name the flag, field, line or path.
    const code = (e as { code?: string }).code;
    const isUsage = e instanceof UsageError || code?.startsWith("ERR_PARSE_ARGS");
    if (isUsage || inputErrors.some((type) => e instanceof type) || code === "ENOENT") {
      console.error(`lspo ${command} ${sub}: ${(e as Error).message}`);
      return isUsage ? 2 : 1;
    }
    throw e;
  }
}
