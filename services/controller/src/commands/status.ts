export const summary = "list actors of a running system (name, kind, node, pid, state, restarts)";

export async function run(_argv: string[]): Promise<number> {
  console.error("lspo status: not implemented yet");
  return 1;
}
