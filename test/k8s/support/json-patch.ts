// RFC 6902 JSON Patch, the subset kustomize overlays here use: add, remove, replace, test.
// Pointers follow RFC 6901 (`~1` is `/`, `~0` is `~`; `-` appends to an array).
import { isDeepStrictEqual } from "node:util";

export interface PatchOp {
  op: "add" | "remove" | "replace" | "test";
  path: string;
  value?: unknown;
}

const OPS = new Set(["add", "remove", "replace", "test"]);

export class JsonPatchError extends Error {
  override name = "JsonPatchError";
}

function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new JsonPatchError(`path '${pointer}' must start with '/'`);
  return pointer.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === "object" && v !== null;
}

/** The container holding the last token of `pointer`, and that token. */
function parentOf(doc: unknown, pointer: string): { parent: Container; key: string } {
  const path = tokens(pointer);
  if (path.length === 0) throw new JsonPatchError("operations on the whole document are not supported");
  let node: unknown = doc;
  for (const [i, t] of path.slice(0, -1).entries()) {
    const next: unknown = Array.isArray(node) ? node[arrayIndex(node, t, false)] : isContainer(node) ? (node as Record<string, unknown>)[t] : undefined;
    if (!isContainer(next)) throw new JsonPatchError(`path '${pointer}': '/${path.slice(0, i + 1).join("/")}' does not exist`);
    node = next;
  }
  return { parent: node as Container, key: path[path.length - 1] };
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean): number {
  if (token === "-" && forAdd) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new JsonPatchError(`'${token}' is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new JsonPatchError(`index ${i} is out of range (length ${arr.length})`);
  return i;
}

function get(parent: Container, key: string, pointer: string): unknown {
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false)];
  if (!(key in parent)) throw new JsonPatchError(`path '${pointer}' does not exist`);
  return parent[key];
}

/** Applies `ops` to `doc` in place (a failed op throws, naming the op and the path). */
export function applyJsonPatch(doc: unknown, ops: unknown): void {
  if (!Array.isArray(ops)) throw new JsonPatchError("a JSON 6902 patch must be a list of operations");
  for (const [n, raw] of ops.entries()) {
    const op = raw as PatchOp;
    if (!isContainer(op) || !OPS.has(op.op)) {
      throw new JsonPatchError(`operation ${n}: 'op' must be one of ${[...OPS].join(", ")} (got ${JSON.stringify((op as PatchOp)?.op)})`);
    }
    try {
      const { parent, key } = parentOf(doc, op.path);
      const value = structuredClone(op.value);
      switch (op.op) {
        case "add":
          if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
          else parent[key] = value;
          break;
        case "remove":
          get(parent, key, op.path);
          if (Array.isArray(parent)) parent.splice(Number(key), 1);
          else delete parent[key];
          break;
        case "replace":
          get(parent, key, op.path);
          if (Array.isArray(parent)) parent[Number(key)] = value;
          else parent[key] = value;
          break;
        case "test": {
          const actual = get(parent, key, op.path);
          if (!isDeepStrictEqual(actual, op.value)) {
            throw new JsonPatchError(`test failed: ${JSON.stringify(actual)} is not ${JSON.stringify(op.value)}`);
          }
          break;
        }
      }
    } catch (err) {
      throw new JsonPatchError(`operation ${n} (${op.op} ${op.path}): ${(err as Error).message}`);
    }
  }
}
