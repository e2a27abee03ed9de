// The one tensor type every part of libs/model passes around: a flat typed array plus a shape
// (row-major). Weights are `Map<name, Tensor>` keyed by Hugging Face parameter names
// (e.g. `model.layers.0.self_attn.q_proj.weight`).

export type DType = "float32" | "float64" | "int64" | "int32" | "bool";

export interface TypedArrayOf {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export interface Tensor<D extends DType = DType> {
  dtype: D;
  shape: number[];
  data: TypedArrayOf[D];
}

export type Weights = Map<string, Tensor<"float32">>;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function tensor<D extends DType>(dtype: D, shape: number[], data: TypedArrayOf[D]): Tensor<D> {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: shape [${shape.join(",")}] needs ${numel(shape)} elements, data has ${data.length}`);
  }
  return { dtype, shape, data };
}
