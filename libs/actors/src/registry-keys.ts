// Registry keys: `<runId>.actor.<kind>.<name>` and `<runId>.node.<identity>.<node>`. The run id leads, so one
// watch on `<runId>.>` sees exactly one run and two runs on one NATS never see (or call) each other. The
// second token after the type says who may write the key: NATS permissions give each identity the keys of
// its own kind (`$KV.lspo-actors.*.actor.rollout.*`, `$KV.lspo-actors.*.node.rollout.>`), so a rollout
// identity cannot write the learner's record, and a reader trusts a record's kind from its key, never from
// the record's own body.

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

/** A kind or identity token of a key (`rollout`, `learner`, `controller`, ...). */
export function checkIdentityToken(id: string, what = "identity"): string {
  if (!NAME_RE.test(id)) throw new Error(`${what}: '${id}' may contain only letters, digits, '_' and '-' (it is a registry key token)`);
  return id;
}

export const actorKey = (runId: string, kind: string, name: string) => `${runId}.actor.${kind}.${name}`;
export const nodeKey = (runId: string, identity: string, node: string) => `${runId}.node.${identity}.${node}`;

/** What a key of the run names, or null for a key of another shape (never fatal: skipped). `owner` is the
 *  kind of an actor key, the writing identity of a node key; `id` the actor or node name. */
export function parseKey(runId: string, key: string): { type: "actor" | "node"; owner: string; id: string } | null {
  const prefix = `${runId}.`;
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  for (const type of ["actor", "node"] as const) {
    if (!rest.startsWith(`${type}.`)) continue;
    const tail = rest.slice(type.length + 1);
    const dot = tail.indexOf(".");
    if (dot <= 0 || dot === tail.length - 1) return null;
    return { type, owner: tail.slice(0, dot), id: tail.slice(dot + 1) };
  }
  return null;
}
