// Registry keys: `<runId>.actor.<name>` and `<runId>.node.<node>`. The run id leads, so one watch on
// `<runId>.>` sees exactly one run and two runs on one NATS never see (or call) each other.

const RUN_ID_RE = /^[A-Za-z0-9_-]+$/;
const NAME_RE = /^[A-Za-z0-9_-]+$/;
// Host names carry dots (ip-10-0-0-1.ec2.internal); KV keys allow them, as long as no token is empty.
const NODE_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function checkRunId(runId: string, what = "runId"): string {
  if (!RUN_ID_RE.test(runId)) throw new Error(`${what}: '${runId}' may contain only letters, digits, '_' and '-' (it leads every registry key)`);
  return runId;
}

export function checkActorName(name: string, what = "name"): string {
  if (!NAME_RE.test(name)) throw new Error(`${what}: actor name '${name}' may contain only letters, digits, '_' and '-'`);
  return name;
}

export function checkNodeName(node: string, what = "node"): string {
  if (!NODE_RE.test(node)) throw new Error(`${what}: node name '${node}' may contain only letters, digits, '_', '-' and inner dots`);
  return node;
}

export const actorKey = (runId: string, name: string) => `${runId}.actor.${name}`;
export const nodeKey = (runId: string, node: string) => `${runId}.node.${node}`;

/** What a key of the run names, or null for a key of another shape (never fatal: skipped). */
export function parseKey(runId: string, key: string): { type: "actor" | "node"; id: string } | null {
  const prefix = `${runId}.`;
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  for (const type of ["actor", "node"] as const) {
    if (rest.startsWith(`${type}.`) && rest.length > type.length + 1) return { type, id: rest.slice(type.length + 1) };
  }
  return null;
}
