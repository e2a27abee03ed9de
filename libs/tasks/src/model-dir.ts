// The filesystem side of Hugging Face model directories: @lspo/model decodes and encodes the files (it
// does no I/O); this module reads and writes them.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { type EncodeModelOptions, type HfModel, type LlamaConfig, MODEL_FILES, decodeModelFiles, encodeModelFileParts, parseConfigJson } from "@lspo/model";
import { fileSource, writeParts } from "./file-io.js";

export class ModelDirError extends Error {
  override name = "ModelDirError";
}

/** Reads config.json, model.safetensors (or the sharded index and its shards), tokenizer.json and the
 *  optional tokenizer_config.json / generation_config.json. Errors name the missing or bad file. */
export function readModelDir(dir: string): HfModel {
  if (!existsSync(dir)) throw new ModelDirError(`model directory ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new ModelDirError(`${dir} is not a directory (expected a Hugging Face model directory)`);
  // Weights files are read tensor by tensor (a checkpoint may be larger than any one buffer); the rest whole.
  const open: Array<{ close(): void }> = [];
  try {
    return decodeModelFiles((name) => {
      const file = path.join(dir, name);
      if (!existsSync(file)) return null;
      if (!name.endsWith(".safetensors")) return new Uint8Array(readFileSync(file));
      const src = fileSource(file);
      open.push(src);
      return src;
    }, dir);
  } finally {
    for (const f of open) f.close();
  }
}

/** Only config.json of a model directory (no weights read): for services that need the vocabulary and
 *  context size, not the model. Errors name the file. */
export function readModelConfig(dir: string): LlamaConfig {
  const file = path.join(dir, "config.json");
  if (!existsSync(file)) throw new ModelDirError(`${file} does not exist (expected a Hugging Face model directory at ${dir})`);
  return parseConfigJson(readFileSync(file, "utf8"), file);
}

/** Writes the model as transformers' save_pretrained does (float32 safetensors, `{"format":"pt"}`
 *  metadata), creating `dir` if needed. Each file is written to a temporary name and renamed into place,
 *  so a crash mid-write never leaves a truncated checkpoint file under its real name. Returns the file
 *  names written. */
export function writeModelDir(dir: string, model: HfModel, options: EncodeModelOptions = {}): string[] {
  // Parts, not whole files: a weights file is its header and views of the tensors, written in turn.
  const files = encodeModelFileParts(model, options);
  mkdirSync(dir, { recursive: true });
  for (const [name, parts] of files) {
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    writeParts(tmp, parts);
    renameSync(tmp, target);
  }
  // A single-file checkpoint wins over an index when both exist, so drop the other layout's entry file.
  for (const stale of [MODEL_FILES.weights, MODEL_FILES.shardIndex]) {
    if (!files.has(stale)) rmSync(path.join(dir, stale), { force: true });
  }
  return [...files.keys()];
}
