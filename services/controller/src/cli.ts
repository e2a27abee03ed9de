// The `lspo` command line: one table of subcommands, each in its own module under commands/.
// Every module exports `run(argv: string[]): Promise<number>` (the exit code) and a one-line `summary`.

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

// Lazy imports keep `lspo --help` fast and let one command's dependencies (ORT, NATS) stay unloaded
// for another.
const commands: Record<string, () => Promise<Command>> = {
  agent: () => import("./commands/agent.js"),
  algo: () => import("./commands/algo.js"),
  demo: () => import("./commands/demo.js"),
  experiment: () => import("./commands/experiment.js"),
  sampler: () => import("./commands/sampler.js"),
  model: () => import("./commands/model.js"),
  pretrain: () => import("./commands/pretrain.js"),
  status: () => import("./commands/status.js"),
  serve: () => import("./commands/serve.js"),
  "swap-algorithm": () => import("./commands/swap-algorithm.js"),
  train: () => import("./commands/train.js"),
  verify: () => import("./commands/verify.js"),
};

/** Every command with its one-line summary (loads each module: --help is the one place that needs them all). */
async function usage(): Promise<string> {
  const names = Object.keys(commands).sort();
  const summaries = await Promise.all(names.map(async (n) => (await commands[n]()).summary));
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((n, i) => `  ${n.padEnd(width)}  ${summaries[i]}`);
  return `usage: lspo <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun \`lspo <command> --help\` for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h") {
    // No command is a usage error (exit 2); asking for help is not.
    if (name) console.log(await usage());
    else console.error(await usage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`lspo: unknown command '${name}'. Valid commands: ${Object.keys(commands).sort().join(", ")}`);
    return 2;
  }
  const cmd = await load();
  return cmd.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // LSPO_DEBUG=1 prints the stack: a bare "timeout" from deep in the NATS client names no call site.
    const detail = err instanceof Error ? (process.env.LSPO_DEBUG ? err.stack : err.message) : String(err);
    console.error(`lspo: ${detail}`);
    process.exit(1);
  },
);
