// Graph -> ONNX ModelProto bytes (opset 18, IR 8). Initializers go out as raw little-endian bytes, which is
// both what ONNX specifies for raw_data and a zero-copy view of our typed arrays on every platform Node runs on.
import {
  AttributeProto,
  AttributeProto_AttributeType,
  ModelProto,
  type TensorProto,
  type TensorShapeProto_Dimension,
  type ValueInfoProto,
} from "@lspo/proto";
import type { Tensor } from "../tensor.js";
import type { Attr, Graph, Node, Value } from "./graph.js";
import { onnxDType } from "./ops-elementwise.js";

export const OPSET = 18;
export const IR_VERSION = 8;
export const MS_DOMAIN = "com.microsoft";

function tensorProto(name: string, t: Tensor): TensorProto {
  const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return {
    dims: t.shape.map((d) => BigInt(d)),
    dataType: onnxDType(t.dtype),
    floatData: [], int32Data: [], stringData: [], int64Data: [], doubleData: [], uint64Data: [],
    name,
    docString: "",
    rawData: bytes,
  };
}

function valueInfo(name: string, v: Value): ValueInfoProto {
  const dim = v.shape.map((d): TensorShapeProto_Dimension =>
    typeof d === "number"
      ? { value: { $case: "dimValue", value: BigInt(d) }, denotation: "" }
      : { value: { $case: "dimParam", value: d }, denotation: "" },
  );
  return {
    name,
    docString: "",
    type: { value: { $case: "tensorType", value: { elemType: onnxDType(v.dtype), shape: { dim } } }, denotation: "" },
  };
}

const ATTR_WRITERS = {
  int: (a, v) => ({ ...a, type: AttributeProto_AttributeType.INT, i: BigInt(v) }),
  float: (a, v) => ({ ...a, type: AttributeProto_AttributeType.FLOAT, f: v }),
  string: (a, v) => ({ ...a, type: AttributeProto_AttributeType.STRING, s: Buffer.from(v, "utf8") }),
  ints: (a, v) => ({ ...a, type: AttributeProto_AttributeType.INTS, ints: v.map((x) => BigInt(x)) }),
  floats: (a, v) => ({ ...a, type: AttributeProto_AttributeType.FLOATS, floats: [...v] }),
  tensor: (a, v) => ({ ...a, type: AttributeProto_AttributeType.TENSOR, t: tensorProto("", v) }),
} satisfies { [K in Attr["kind"]]: (base: AttributeProto, v: Extract<Attr, { kind: K }>["value"]) => AttributeProto };

function attribute(name: string, a: Attr): AttributeProto {
  const base = { ...AttributeProto.fromPartial({}), name };
  return (ATTR_WRITERS[a.kind] as (b: AttributeProto, v: unknown) => AttributeProto)(base, a.value);
}

/**
 * The nodes the outputs depend on, in order, and the initializers they read. Rules and builders may leave
 * nodes nobody reads (a gradient rule that found a cheaper form); they are not written out.
 */
export function liveNodes(g: Graph): { nodes: Node[]; initializers: [string, Tensor][] } {
  const need = new Set(g.outputs.map((o) => o.value.name));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (!n.outputs.some((o) => need.has(o.name))) continue;
    keep.push(n);
    for (const v of n.inputs) if (v) need.add(v.name);
  }
  return { nodes: keep.reverse(), initializers: [...g.initializers].filter(([name]) => need.has(name)) };
}

export function toModelProto(g: Graph): ModelProto {
  if (g.outputs.length === 0) throw new Error(`graph '${g.name}' has no outputs`);
  const live = liveNodes(g);
  const domains = new Set(live.nodes.map((n) => n.domain).filter((d) => d !== ""));
  return ModelProto.fromPartial({
    irVersion: BigInt(IR_VERSION),
    opsetImport: [{ domain: "", version: BigInt(OPSET) }, ...[...domains].map((domain) => ({ domain, version: 1n }))],
    producerName: "lspo",
    graph: {
      name: g.name,
      node: live.nodes.map((n, i) => ({
        input: n.inputs.map((v) => v?.name ?? ""),
        output: n.outputs.map((v) => v.name),
        name: `${n.op}_${i}`,
        opType: n.op,
        domain: n.domain,
        attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
      })),
      initializer: live.initializers.map(([name, t]) => tensorProto(name, t)),
      input: g.inputs.map((v) => valueInfo(v.name, v)),
      output: g.outputs.map((o) => valueInfo(o.name, o.value)),
    },
  });
}

/** The serialised ONNX model, ready for `InferenceSession.create`. */
export function encodeModel(g: Graph): Uint8Array {
  return ModelProto.encode(toModelProto(g)).finish();
}
