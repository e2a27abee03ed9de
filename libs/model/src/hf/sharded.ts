// Sharded checkpoints: `model.safetensors.index.json` maps each tensor name to the shard file holding it,
//   {"metadata": {"total_size": <bytes>}, "weight_map": {"<tensor>": "model-00001-of-00002.safetensors", ...}}
// Pure: the caller reads the shard files (by the names the index gives) and hands us the bytes.
import { type Tensor } from "../tensor.js";
import { SafetensorsError, type ByteSource, type ParseOptions, type SafetensorsEntry, type WriteOptions, concatParts, parseSafetensors, safetensorsParts, storedBytes } from "./safetensors.js";

export const SHARD_INDEX_FILE = "model.safetensors.index.json";

export interface ShardIndex {
  /** tensor name -> shard file name */
  weightMap: Map<string, string>;
  /** Distinct shard file names, in first-seen order. */
  shardFiles: string[];
  metadata: Record<string, unknown>;
}

export function parseShardIndex(text: string, where = SHARD_INDEX_FILE): ShardIndex {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${where}: ${msg}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail("must be a JSON object");
  const { weight_map: wm, metadata } = json as Record<string, unknown>;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm)) fail("missing the 'weight_map' object");
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof file !== "string" || file.length === 0) fail(`weight_map['${name}'] must be a file name, got ${JSON.stringify(file)}`);
    // Shards live beside the index: a path component would let an index point outside the model dir.
    if (/[\\/]/.test(file as string) || file === "." || file === "..") {
      fail(`weight_map['${name}'] = '${file}' is not a plain file name in the model directory`);
    }
    weightMap.set(name, file as string);
  }
  if (weightMap.size === 0) fail("'weight_map' is empty");
  return {
    weightMap,
    shardFiles: [...new Set(weightMap.values())],
    metadata: typeof metadata === "object" && metadata !== null ? (metadata as Record<string, unknown>) : {},
  };
}

/** Parses every shard the index names and checks that each holds exactly the tensors the index assigns
 *  to it. `readShard(file)` returns the shard's bytes. */
export function readShardedSafetensors(
  index: ShardIndex,
  readShard: (file: string) => Uint8Array | ByteSource,
  opts: ParseOptions = {},
): Map<string, SafetensorsEntry> {
  const out = new Map<string, SafetensorsEntry>();
  for (const file of index.shardFiles) {
    const parsed = parseSafetensors(readShard(file), file, opts);
    for (const [name, entry] of parsed.tensors) {
      const listed = index.weightMap.get(name);
      if (listed === undefined) {
        throw new SafetensorsError(`${file}: holds tensor '${name}' that ${SHARD_INDEX_FILE} does not list`);
      }
      if (listed !== file) {
        throw new SafetensorsError(`${file}: holds tensor '${name}' that ${SHARD_INDEX_FILE} places in '${listed}'`);
      }
      out.set(name, entry);
    }
  }
  for (const [name, file] of index.weightMap) {
    if (!out.has(name)) throw new SafetensorsError(`${file}: tensor '${name}' listed in ${SHARD_INDEX_FILE} is missing from the shard`);
  }
  return out;
}

/** Splits tensors into shards of at most `maxShardBytes` of data each (a tensor larger than that gets a
 *  shard of its own), named as transformers names them. Returns the index JSON and the shard bytes. */
export function writeShardedSafetensors(
  tensors: Iterable<readonly [string, Tensor]>,
  maxShardBytes: number,
  metadata: Record<string, string> | null = { format: "pt" },
): { indexJson: string; shards: Map<string, Uint8Array> } {
  const { indexJson, shards } = shardedSafetensorsParts(tensors, maxShardBytes, metadata);
  return { indexJson, shards: new Map([...shards].map(([file, parts]) => [file, concatParts(parts)])) };
}

/** As writeShardedSafetensors, each shard as parts to write in turn (safetensorsParts): no shard in one buffer. */
export function shardedSafetensorsParts(
  tensors: Iterable<readonly [string, Tensor]>,
  maxShardBytes: number,
  metadata: Record<string, string> | null = { format: "pt" },
  options: WriteOptions = {},
  /** Shard file names are `<prefix>-0000k-of-0000n.safetensors` (transformers': "model"). */
  prefix = "model",
): { indexJson: string; shards: Map<string, Uint8Array[]> } {
  if (!(maxShardBytes > 0)) throw new SafetensorsError(`maxShardBytes must be positive, got ${maxShardBytes}`);
  const sorted = [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const groups: Array<Array<readonly [string, Tensor]>> = [];
  let size = Infinity;
  for (const item of sorted) {
    const bytes = storedBytes(item[1], options);
    if (size + bytes > maxShardBytes || groups.length === 0) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(item);
    size += bytes;
  }
  const pad = (i: number) => String(i).padStart(5, "0");
  const shards = new Map<string, Uint8Array[]>();
  const weightMap: Record<string, string> = {};
  let total = 0;
  groups.forEach((g, i) => {
    const file = `${prefix}-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`;
    shards.set(file, safetensorsParts(g, metadata, options));
    for (const [name, t] of g) {
      weightMap[name] = file;
      total += storedBytes(t, options);
    }
  });
  const indexJson = JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + "\n";
  return { indexJson, shards };
}
