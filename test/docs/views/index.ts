// Every view a doc's marker can name, by module (the file in this folder) and name: <module>/<name>.
import { views as bus } from "./bus.js";
import { views as chaos } from "./chaos.js";
import { views as decode } from "./decode.js";
import { views as demo } from "./demo.js";
import { views as gpu } from "./gpu.js";
import { views as learnerMemory } from "./learner-memory.js";
import { views as markdown } from "./markdown.js";
import { views as model } from "./model.js";
import { views as modelScale } from "./model-scale.js";
import { views as pipeline } from "./pipeline.js";
import { views as pretrain } from "./pretrain.js";
import { views as rollout } from "./rollout.js";
import { views as rolloutModes } from "./rollout-modes.js";
import { views as sampler } from "./sampler.js";
import { views as samplerService } from "./sampler-service.js";
import { views as sampling } from "./sampling.js";
import { views as gemmCeiling } from "./gemm-ceiling.js";
import { views as scale } from "./scale.js";
import { views as verifier } from "./verifier.js";
import type { View } from "./view.js";
import { views as weights } from "./weights.js";

export const VIEWS: Record<string, Record<string, View>> = { bus, chaos, decode, demo, "gemm-ceiling": gemmCeiling, gpu, "learner-memory": learnerMemory, markdown, model, "model-scale": modelScale, pipeline, pretrain, rollout, "rollout-modes": rolloutModes, sampler, "sampler-service": samplerService, sampling, scale, verifier, weights };
