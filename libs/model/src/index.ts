// Public entry of @lspo/model: ONNX graph builder, autodiff, Llama-family policy, generation, training.
export { type DType, type Tensor, type TypedArrayOf, type Weights, numel, tensor } from "./tensor.js";
export { type LlamaConfig, type ModelType } from "./config.js";
// Hugging Face formats (M2): safetensors, sharded checkpoints, config.json, parameter names.
export {
  type ByteSource, type DecodedTensor, type ParseOptions, type SafetensorsDType, type SafetensorsEntry, type SafetensorsFile, SafetensorsError,
  type WriteOptions, bytesSource, concatParts, decodeEntry, parseSafetensors, safetensorsParts, serializeSafetensors, storedBytes,
} from "./hf/safetensors.js";
export { SHARD_INDEX_FILE, type ShardIndex, parseShardIndex, readShardedSafetensors, shardedSafetensorsParts, writeShardedSafetensors } from "./hf/sharded.js";
export {
  ModelConfigError, SUPPORTED_MODEL_TYPES, configToJson, formatConfigJson, parseConfigJson, validateLlamaConfig,
} from "./hf/config-json.js";
export { WeightsError, expectedParameters, parameterCount, validateWeights, weightsFromCheckpoint } from "./hf/params.js";
export { type DecodeOptions, type EncodeOptions, type TextTokenizer, TokenizerError, loadTokenizer } from "./tokenizer/tokenizer.js";
export { type GenerationConfig, GenerationConfigError, formatGenerationConfig, parseGenerationConfig } from "./hf/generation-config.js";
export { type EncodeModelOptions, type HfModel, MODEL_FILES, ModelFilesError, decodeModelFiles, encodeModelFileParts, encodeModelFiles } from "./hf/model-files.js";
export { type Rng, SeedError, createRng, createUnmixedRng, rngFromState, rngStreams } from "./sampling/rng.js";
export {
  GREEDY, type SampledToken, SamplingError, type SamplingParams, argmax, sampleToken, tokenLogprob, validateSamplingParams,
} from "./sampling/sample.js";
// graph builder, ONNX serialisation, onnxruntime runner (M1)
export { Graph, GraphError, Value, type Dim, type FloatDType } from "./graph/graph.js";
export { type Op } from "./graph/op-list.js";
export { ops } from "./graph/ops.js";
export { encodeModel } from "./graph/serialize.js";
export { OrtSession, SessionRunError, type SessionOptions } from "./runtime/session.js";
export { type AnyTensor, DeviceTensor, isDeviceTensor } from "./runtime/device-tensor.js";
export { DeviceTransfer } from "./runtime/device-transfer.js";
export { type Provider, ProviderUnavailableError } from "./runtime/providers.js";
export { type BackwardOptions, type RecomputeSpan, backward } from "./autodiff/backward.js";
export { GRAD_RULES, type GradRule, type GradContext } from "./autodiff/rules.js";
export { type DecoderStepInput, type DecoderStepOutput, type GreedyStepOutput, type IncrementalDecoder, type KvStore, type KvTensor } from "./generate/decoder.js";
export { GenerateError, type GenerateOptions, type GenerateResult, type StepEvent, generate } from "./generate/generate.js";
export { ContinuousBatch, type ContinuousOptions, type SequenceSpec } from "./generate/continuous.js";
export { type InitOptions, initModel } from "./init.js";
// Llama-family decoder graphs and their runners (M1)
export { decoder, headWeight, lmHead, type DecoderInputs, type DecoderOutputs, type KvSlice, type LayerSpan, type Params } from "./llama/decoder.js";
export {
  type LearnerGraphOptions, type LossBuilder, type LossContext, type LossResult, type TrainingGraph,
  INPUT, SLOT_BIAS, forwardGraph, inferenceGraph, logitsGraph, slotDecodeGraph, slotName, trainingGraph,
} from "./llama/graphs.js";
export { type ScoredLogprobs, scoredLogprobs, vocabChunks } from "./llama/logprobs.js";
export { rmsNorm, rope, ropeTables, linear } from "./llama/layers.js";
export { BatchError, type TokenBatch, type TokenBatchOptions, inverseTemperatures, makeTokenBatch, positionsFromMask, scoredPositions, splitBatch } from "./llama/batch.js";
export { type DecoderOptions, OnnxDecoder } from "./runtime/decoder-session.js";
export { ForwardSession, GradientSession, type ForwardBackward } from "./runtime/train-session.js";
export { DEFAULT_DEMO_WORDS, DEMO_EOS, DEMO_PAD, type DemoTokenizerOptions, buildDemoTokenizerJson } from "./tokenizer/demo.js";
export { type HfConfigInitOptions, ModelSpecError, createModelFromHfConfig, createModelFromSpec } from "./model-init.js";
export {
  type GradientCheck, type ReferenceJson, ReferenceFormatError, TOLERANCES, type VerifyReport, verifyAgainstReference,
} from "./verify/reference-check.js";
// training step (M1)
export { NonFiniteStepError, Trainer, TrainerError, type TrainerOptions, type StepResult } from "./train/trainer.js";
export { ADAMW_DEFAULTS, type AdamWConfig, type AdamWState, OptimizerError, adamwStep, zeroState } from "./train/adamw.js";
export { OnnxAdamW } from "./train/adamw-graph.js";
export { type ScheduleConfig, ScheduleError, learningRate } from "./train/schedule.js";
export { clipScale, globalNorm } from "./train/clip.js";
export { BASELINE_BYTES, GIB, LEARNER_BYTES_PER_PARAM, describeEstimate, inferenceMemory, learnerMemory, logprobPassMemory, trainingFloatsPerToken, type MemoryEstimate } from "./memory.js";
