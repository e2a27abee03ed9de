// The small Qwen2-shaped config the decode tests share: grouped-query attention (2 query heads per kv head),
// q/k/v bias, tied embeddings; small enough that a session builds in milliseconds.
import type { LlamaConfig } from "../../src/config.js";

export const TINY_QWEN2: LlamaConfig = {
  modelType: "qwen2", vocabSize: 64, hiddenSize: 32, intermediateSize: 48, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositionEmbeddings: 512, tieWordEmbeddings: true,
  attentionBias: true, qkNorm: false, bosTokenId: null, eosTokenIds: [1], padTokenId: 0,
};
