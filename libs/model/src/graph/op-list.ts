// Every ONNX operator the graph builder can emit. The autodiff rule table is typed
// `satisfies Record<Op, GradRule>`, so adding an op here without deciding its gradient is a compile error.

export const OPS = [
  // elementwise, broadcasting (numpy rules)
  "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Where",
  // elementwise, unary
  "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Sigmoid", "Tanh", "Cos", "Sin", "Identity", "Cast", "Clip",
  // linear algebra
  "MatMul", "Gemm",
  // normalisations along one axis
  "Softmax", "LogSoftmax",
  // reductions
  "ReduceSum", "ReduceMean", "ReduceMax", "ReduceProd", "ReduceLogSumExp",
  // layout
  "Reshape", "Transpose", "Slice", "Concat", "Split", "Expand", "Unsqueeze", "Squeeze", "Pad",
  // indexing
  "Gather", "GatherElements", "ScatterND", "ScatterElements",
  // integer / boolean plumbing (never differentiated)
  "Shape", "Size", "ConstantOfShape", "Range", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And",
  "Or", "Not", "ArgMax", "CumSum",
] as const;

export type Op = (typeof OPS)[number];
