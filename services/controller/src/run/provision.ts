// What a run needs on NATS before any actor starts, made by the controller: under the shipped per-identity
// permissions (deploy/nats/accounts.conf) it is the only identity that may create or change streams, KV
// buckets, object stores and the work-queue stages' durable consumers; every other component binds to
// what is made here, with the same settings, and writes nothing to the JetStream API to do so.
import {
  KV_BUCKETS, OBJECT_STORES, ensureConsumer, ensureStreams, openKv, openObjectStore, streamLimitsOf,
  type JetStreamManager, type NatsConnection,
} from "@lspo/bus";
import { PIPELINE_STAGES, pipelineConsumer, type PipelineStage } from "@lspo/actors";
import type { RunConfig } from "@lspo/config";

export async function provisionRun(nc: NatsConnection, jsm: JetStreamManager, config: RunConfig): Promise<void> {
  const replicas = config.nats.replicas;
  await ensureStreams(jsm, { replicas, limits: streamLimitsOf(config.bus), duplicateWindowMs: config.bus.duplicateWindowS * 1000 });
  for (const stage of PIPELINE_STAGES) await provisionStage(jsm, config, stage);
  // The registry bucket (lspo-actors) is the registry's to make, with its record TTL (ActorRegistry.open).
  for (const bucket of Object.values(KV_BUCKETS)) if (bucket !== KV_BUCKETS.actors) await openKv(nc, bucket, { replicas });
  for (const store of Object.values(OBJECT_STORES)) await openObjectStore(nc, store, { replicas });
}

/** One stage's durable consumer, with the settings its service binds with (pipeline-consumers.ts). */
export async function provisionStage(jsm: JetStreamManager, config: RunConfig, stage: PipelineStage): Promise<void> {
  const c = pipelineConsumer(stage, config);
  await ensureConsumer(jsm, c.stream, c.durable, { filterSubject: c.subject, ...c.opts });
}
