// The run's base model for hosts that do not have it. The controller puts every file of model.dir (config,
// tokenizer, weights) into the `lspo-models` object store under `<runId>/<file>`, with a manifest of their
// SHA-256 digests; an actor whose model.dir does not exist on its host fetches them into a local cache and
// checks each digest before using the copy. Weights are large: files go one at a time, chunked by the
// object store.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import { OBJECT_STORES } from "./subjects.js";
import { ObjectChangedError, getBlob, openObjectStore } from "./stores.js";

export interface ModelManifest {
  runId: string;
  /** file name -> { sha256, bytes } */
  files: Record<string, { sha256: string; bytes: number }>;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

const manifestName = (runId: string) => `${runId}/manifest.json`;

/** Puts model.dir's files into the object store (skipping those already there with the same digest). */
export async function publishModelDir(nc: NatsConnection, runId: string, dir: string, opts: { replicas?: number } = {}): Promise<ModelManifest> {
  const store = await openObjectStore(nc, OBJECT_STORES.models, opts);
  const manifest: ModelManifest = { runId, files: {} };
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const sha256 = await sha256File(path);
    manifest.files[name] = { sha256, bytes: statSync(path).size };
    const info = await store.info(`${runId}/${name}`).catch(() => null);
    if (info && !info.deleted && info.description === sha256) continue;
    await store.put({ name: `${runId}/${name}`, description: sha256 }, readableOf(path));
  }
  await store.putBlob({ name: manifestName(runId) }, new TextEncoder().encode(JSON.stringify(manifest)));
  return manifest;
}

function readableOf(path: string): ReadableStream<Uint8Array> {
  const it = createReadStream(path, { highWaterMark: 1024 * 1024 })[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await it.next();
      if (done) controller.close();
      else controller.enqueue(new Uint8Array(value as Buffer));
    },
  });
}

/**
 * `dir` when it holds a model here; otherwise the run's model fetched from the object store into
 * `<cacheRoot>/lspo-models/<runId>` (reused when every digest still matches). Throws naming the file whose
 * digest does not match, or saying the controller has not published the model.
 */
export async function localModelDir(
  nc: NatsConnection,
  runId: string,
  dir: string,
  cacheRoot: string,
  /** Wait this long for the controller to publish it (a service started before the run); 0: do not wait. */
  waitMs = 0,
  onWait?: (message: string) => void,
): Promise<string> {
  if (dir && existsSync(join(dir, "config.json"))) return dir;
  const store = await openObjectStore(nc, OBJECT_STORES.models);
  const deadline = Date.now() + waitMs;
  // Not there yet, or not read (NATS away): tried again until the deadline; the error says which it was.
  let lastFailure: unknown = null;
  const readManifest = () => getBlob(store, manifestName(runId)).catch((err: unknown) => ((lastFailure = err), null));
  let raw = await readManifest();
  for (let waited = 0; !raw && Date.now() < deadline; waited++) {
    if (waited % 60 === 0) onWait?.(`waiting for the controller of run '${runId}' to publish its model (model.dir '${dir}' is not on this host)`);
    await new Promise((r) => setTimeout(r, 1000));
    raw = await readManifest();
  }
  if (!raw) {
    if (lastFailure instanceof ObjectChangedError && lastFailure.reason === "missing") {
      throw new Error(`model.dir '${dir}' does not exist on this host, and run '${runId}' has no model in the '${OBJECT_STORES.models}' object store (the controller publishes it at start)`);
    }
    throw new Error(`model.dir '${dir}' does not exist on this host, and the model manifest of run '${runId}' in the '${OBJECT_STORES.models}' object store could not be read: ${(lastFailure as Error)?.message ?? String(lastFailure)}`, { cause: lastFailure });
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(raw)) as ModelManifest;
    if (typeof manifest.files !== "object" || manifest.files === null) throw new Error("no files");
  } catch (err) {
    throw new Error(`the model manifest of run '${runId}' is unreadable (${(err as Error).message})`);
  }
  const out = join(cacheRoot, "lspo-models", runId);
  mkdirSync(out, { recursive: true });
  for (const [name, want] of Object.entries(manifest.files)) {
    if (name.includes("/") || name.startsWith(".")) throw new Error(`the model manifest of run '${runId}' names an unsafe file '${name}'`);
    const path = join(out, name);
    if (existsSync(path) && statSync(path).size === want.bytes && (await sha256File(path)) === want.sha256) continue;
    const bytes = await getBlob(store, `${runId}/${name}`);
    const got = createHash("sha256").update(bytes).digest("hex");
    if (got !== want.sha256) throw new Error(`model file '${name}' of run '${runId}' fetched with SHA-256 ${got}, but the manifest says ${want.sha256}: refusing the copy`);
    // Several actors of one pod share the cache and may fetch at once: each writes its own temporary file
    // and renames it into place (the same bytes, so whichever rename lands last is right).
    const tmp = `${path}.part-${process.pid}-${randomBytes(4).toString("hex")}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  }
  // Files of an older model under the same run id would mix with this one: only the manifest's stay.
  // Another process's file still being written (`.part-*`) is left alone.
  for (const name of readdirSync(out)) if (!(name in manifest.files) && !name.includes(".part-")) rmSync(join(out, name), { recursive: true, force: true });
  return out;
}
