// Publishing a policy version: the weights as safetensors shards, one object each (no buffer holds the whole
// model: a shard is written from views of its tensors), then the version pointer in KV with every shard's
// digest (readers never see a pointer to bytes that are not there yet). Old versions beyond `keep` are deleted
// in the background.
import { createHash } from "node:crypto";
import { KV_BUCKETS, OBJECT_STORES, deleteObject, kvPut, openKv, openObjectStore, putParts, type NatsConnection } from "@lspo/bus";
import { shardedSafetensorsParts, type Weights } from "@lspo/model";
import type { WeightShard, WeightsRef } from "@lspo/proto";

export interface PublishOptions {
  /** Float tensors as F32 or BF16 on the wire (model.storageDtype). */
  dtype?: "F32" | "BF16";
  /** Tensor data per shard, at most (a larger tensor gets a shard of its own). */
  maxShardBytes?: number;
  /** Called for each object of an old version that could not be deleted (its bytes stay in the store). */
  onDeleteFailed?: (objectName: string, err: Error) => void;
}

/** The version's content id: SHA-256 over the shards' hex digests, each with a newline, then the dtype. */
function contentIdOf(shards: readonly Pick<WeightShard, "sha256">[], dtype: string): string {
  const h = createHash("sha256");
  for (const s of shards) h.update(`${s.sha256}\n`);
  return h.update(dtype).digest("hex");
}

export class WeightsPublisher {
  private readonly published: string[][] = [];
  private deleting: Promise<void> = Promise.resolve();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: Awaited<ReturnType<typeof openKv>>,
    private readonly store: Awaited<ReturnType<typeof openObjectStore>>,
    private readonly runId: string,
    private readonly keep: number,
    private readonly opts: PublishOptions,
  ) {}

  static async open(nc: NatsConnection, runId: string, replicas = 1, keep = 3, opts: PublishOptions = {}): Promise<WeightsPublisher> {
    return new WeightsPublisher(
      nc,
      await openKv(nc, KV_BUCKETS.weights, { replicas }),
      await openObjectStore(nc, OBJECT_STORES.weights, { replicas }),
      runId,
      keep,
      opts,
    );
  }

  async publish(weights: Weights, version: number, step: number): Promise<WeightsRef> {
    const dtype = this.opts.dtype ?? "F32";
    const { shards } = shardedSafetensorsParts(weights, this.opts.maxShardBytes ?? 512 << 20, { format: "pt" }, { float32As: dtype });
    // A fresh name per publish: a learner restarted at the same version must never overwrite an object
    // a rollout actor may be reading.
    const prefix = `${this.runId}/v${version}-${Date.now().toString(36)}`;
    const written: WeightShard[] = [];
    for (const [file, parts] of shards) {
      const objectName = `${prefix}/${file}`;
      const h = createHash("sha256");
      let size = 0;
      for (const p of parts) {
        h.update(p);
        size += p.byteLength;
      }
      await putParts(this.store, objectName, parts);
      written.push({ objectName, sizeBytes: BigInt(size), sha256: h.digest("hex") });
    }
    const ref: WeightsRef = {
      version: BigInt(version),
      step: BigInt(step),
      objectName: prefix,
      sizeBytes: written.reduce((n, s) => n + s.sizeBytes, 0n),
      sha256: contentIdOf(written, dtype),
      publishedAt: new Date(),
      shards: written,
      dtype,
    };
    await kvPut(this.kv, this.runId, "WeightsRef", ref);
    this.published.push(written.map((s) => s.objectName));
    // Old versions are deleted off the publish path (a version is a model's bytes: seconds per GB where the
    // chunks go one by one, libs/bus object-delete.ts), while the learner trains on; at most one version's
    // deletion is under way: the next publish first waits for it.
    await this.deleting;
    const old = this.published.length > this.keep ? this.published.splice(0, this.published.length - this.keep).flat() : [];
    if (old.length) {
      this.deleting = (async () => {
        for (const name of old) await deleteObject(this.nc, this.store, name).catch((err: Error) => this.opts.onDeleteFailed?.(name, err));
      })();
    }
    return ref;
  }

  /** Settles once the old versions queued for deletion are deleted (best effort: a failed delete is left and
   *  reported to `onDeleteFailed`; publishing goes on). */
  deleted(): Promise<void> {
    return this.deleting;
  }
}
