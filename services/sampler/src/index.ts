// Public entry of @lspo/sampler: the LSPO sampler service.
export { runSampler } from "./main.js";
export { SamplerCore, settingsToProto, type CoreSnapshot, type EmittedBatch, type OfferResult, type SamplerSettings } from "./core.js";
export { DurableState, MAX_WINDOW_SEGMENTS, type PersistedSampler, type SaveReport, type UidSegment, type WindowSegment } from "./durable.js";
export type { WindowLog } from "./core.js";
