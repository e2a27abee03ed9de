// All graph ops as one object, for callers outside libs/model (loss builders): `ops.mul(a, b)`.
import * as E from "./ops-elementwise.js";
import * as L from "./ops-linalg.js";
import * as Y from "./ops-layout.js";

export const ops = {
  // elementwise
  add: E.add, sub: E.sub, mul: E.mul, div: E.div, pow: E.pow, minimum: E.minimum, maximum: E.maximum,
  neg: E.neg, exp: E.exp, log: E.log, sqrt: E.sqrt, reciprocal: E.reciprocal, sigmoid: E.sigmoid, tanh: E.tanh,
  cos: E.cos, sin: E.sin, identity: E.identity, silu: E.silu, where: E.where, clip: E.clip, cast: E.cast,
  equal: E.equal, less: E.less, lessOrEqual: E.lessOrEqual, greater: E.greater, greaterOrEqual: E.greaterOrEqual,
  and: E.and, or: E.or, not: E.not,
  // linear algebra, softmax, reductions
  matmul: L.matmul, gemm: L.gemm, softmax: L.softmax, logSoftmax: L.logSoftmax,
  reduceSum: L.reduceSum, reduceMean: L.reduceMean, reduceMax: L.reduceMax, sumAll: L.sumAll, argMax: L.argMax, cumSum: L.cumSum,
  // layout and indexing
  reshape: Y.reshape, transpose: Y.transpose, slice: Y.slice, concat: Y.concat, split: Y.split, expand: Y.expand,
  unsqueeze: Y.unsqueeze, squeeze: Y.squeeze, pad: Y.pad, gather: Y.gather, gatherElements: Y.gatherElements,
  shapeOf: Y.shapeOf, zerosLike: Y.zerosLike,
};
