// Publishing a policy version: safetensors bytes into the object store, then the version pointer in KV
// (readers never see a pointer to bytes that are not there yet). Old versions beyond `keep` are deleted.
import { createHash } from "node:crypto";
import { KV_BUCKETS, OBJECT_STORES, kvPut, openKv, openObjectStore, putBlob, type NatsConnection } from "@lspo/bus";
import { serializeSafetensors, type Weights } from "@lspo/model";
import type { WeightsRef } from "@lspo/proto";

export class WeightsPublisher {
  private readonly published: string[] = [];

  private constructor(
    private readonly kv: Awaited<ReturnType<typeof openKv>>,
    private readonly store: Awaited<ReturnType<typeof openObjectStore>>,
    private readonly runId: string,
    private readonly keep: number,
  ) {}

  static async open(nc: NatsConnection, runId: string, replicas = 1, keep = 3): Promise<WeightsPublisher> {
    return new WeightsPublisher(
      await openKv(nc, KV_BUCKETS.weights, { replicas }),
      await openObjectStore(nc, OBJECT_STORES.weights, { replicas }),
      runId,
      keep,
    );
  }

  async publish(weights: Weights, version: number, step: number): Promise<WeightsRef> {
    const bytes = serializeSafetensors([...weights].sort(([a], [b]) => a.localeCompare(b)), { format: "pt" });
    // A fresh name per publish: a learner restarted at the same version must never overwrite an object
    // a rollout actor may be reading.
    const objectName = `${this.runId}/v${version}-${Date.now().toString(36)}.safetensors`;
    await putBlob(this.store, objectName, bytes);
    const ref: WeightsRef = {
      version: BigInt(version),
      step: BigInt(step),
      objectName,
      sizeBytes: BigInt(bytes.byteLength),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      publishedAt: new Date(),
    };
    await kvPut(this.kv, this.runId, "WeightsRef", ref);
    this.published.push(objectName);
    while (this.published.length > this.keep) {
      const old = this.published.shift()!;
      await this.store.delete(old).catch(() => undefined);
    }
    return ref;
  }
}
