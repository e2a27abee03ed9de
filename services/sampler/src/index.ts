// Public entry of @lspo/sampler: the LSPO sampler service.
export { runSampler } from "./main.js";
export { SamplerCore, settingsToProto, type CoreSnapshot, type EmittedBatch, type OfferResult, type SamplerSettings } from "./core.js";
export { DurableState, type PersistedSampler, type UidSegment } from "./durable.js";
