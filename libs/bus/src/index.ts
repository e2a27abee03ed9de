// Public entry of @lspo/bus: NATS connection, JetStream streams/consumers, KV, object store, msgpackr codec.
export { NatsServerError, DecodeError, type DecodeFailure } from "./errors.js";
export { SCHEMA_VERSION, encodeEnvelope, decodeEnvelope, int32Of, float32Of, bytesOf, type Envelope } from "./codec.js";
export { leaseEnvelope, leasePoolStats, type LeasedEnvelope } from "./lease.js";
export { startNatsServer, findNatsServerBinary, type NatsServer, type NatsServerOptions } from "./nats-server.js";
export { startLocalBus, type LocalBus, type LocalBusOptions } from "./local-bus.js";
export { connectBus, busOptionsFromEnv, serverList, type BusOptions } from "./connection.js";
export { STREAMS, KV_BUCKETS, OBJECT_STORES, EVENT_KINDS, subjectFor, eventSubject, samplerSnapshotObject, type StreamSpec, type EventKind } from "./subjects.js";
export { ensureStream, ensureStreams, ensureConsumer, nextOnSubject, isPermissionError, jetstreamManager, retryOnTimeout, streamLimitsOf, type StreamOptions, type StreamLimits, type ConsumerOptions } from "./streams.js";
export {
  VALIDATORS,
  validatePromptRequest,
  validateRolloutGroup,
  validateVerifiedGroup,
  validateTrainingBatch,
  validateWeightsRef,
  firstNonFiniteFloat32,
  type Validator,
} from "./messages.js";
export { payloadLimits, runBoundsOf, vocabularyValidator, allOf, type RunBounds } from "./bounds.js";
export { publishMessage, type PublishOptions, type Published } from "./publish.js";
export { settledWithin } from "./settled.js";
export { GROUP_SUMMARY_HEADER, summaryOf, summaryHeader, publishVerified, verifiedHeaders, parseGroupSummary, summaryMismatch, fetchGroupRefs, decodeFetched, resolveGroupRefs, type FetchedGroup } from "./group-summary.js";
export {
  consume, readPayload, sendAck, inBatches, deadLetter, publishDeadLetter, processOrDeadLetter, deadLetterSubject,
  type DeferredAck, type Delivery, type ConsumeOptions, type Subscription, type DeadLetter, type DeadLetterCause,
} from "./consume.js";
export { openKv, kvPut, kvGet, openObjectStore, putBlob, putParts, getBlob, ObjectChangedError, retryTransient } from "./stores.js";
export { deleteObject, purgeByFilterLeaksUsage } from "./object-delete.js";
export { jetstream, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
export { type NatsConnection } from "@nats-io/nats-core";
export { publishEvent, readEvents, lastEvent, validateRunEvent, type RunEvent, type ReceivedEvent, type EventReader } from "./events.js";
export { watchMaxDeliveries, type WatchedConsumer, type MaxDeliveriesWatcher } from "./max-deliveries.js";
export { publishModelDir, localModelDir, type ModelManifest } from "./model-store.js";
