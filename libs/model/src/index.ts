// Public entry of @lspo/model: ONNX graph builder, autodiff, Llama-family policy, generation, training.
export { type DType, type Tensor, type TypedArrayOf, type Weights, numel, tensor } from "./tensor.js";
export { type LlamaConfig, type ModelType } from "./config.js";
