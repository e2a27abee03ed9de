// Which execution provider runs each node of the decode graphs (issue 22: under WebGPU, nodes the provider has
// no kernel for fall back to the CPU, and every fallback moves tensors between the devices each step; nobody had
// checked which). onnxruntime reports the placement only in its verbose log, written by its C++ logger to the
// process's stderr, so each graph's session is created in a child process (this file, run with --child) and the
// lines of its "Node placements" report are read back from the child's stderr.
import { spawnSync } from "node:child_process";
import { type LlamaConfig, encodeModel, inferenceGraph, slotDecodeGraph } from "@lspo/model";
import * as ort from "onnxruntime-node";

/** The inference graphs a rollout actor runs, by name. */
export const PLACEMENT_GRAPHS = {
  // The host in-place decode (the cpu default; what a GPU provider fed from the host runs).
  "slot-decode": (c: LlamaConfig) => slotDecodeGraph(c),
  // Its greedy form (temperature 0: ArgMax and a sum of exps in place of the logits), whose extra ops may fall back.
  "slot-decode-greedy": (c: LlamaConfig) => slotDecodeGraph(c, { greedy: true }),
  // Prefill, and decode with the cache concatenated (the device cache's graph under webgpu, with its outputs).
  "inference-whole-cache": (c: LlamaConfig) => inferenceGraph(c, { wholeCache: true }),
} as const;
export type PlacementGraph = keyof typeof PLACEMENT_GRAPHS;

export interface Placement {
  /** Node count per execution provider, as onnxruntime reports it after its graph optimisations. */
  nodesByProvider: Record<string, number>;
  /** The nodes placed on the CPU provider when the session's provider is another one: "OpType (node name)". */
  cpuFallbacks: string[];
  /** The report's lines as onnxruntime wrote them. */
  report: string[];
}

/** Parses onnxruntime's verbose "Node placements" report (session_state.cc, VerifyEachNodeIsAssignedToAnEp). */
export function parsePlacement(stderr: string, provider: string): Placement {
  const report = stderr.split("\n").filter((l) => l.includes("VerifyEachNodeIsAssignedToAnEp")).map((l) => l.slice(l.indexOf("VerifyEachNodeIsAssignedToAnEp] ") + 32));
  if (!report.length) throw new Error("onnxruntime wrote no 'Node placements' report (is verbose logging on?)");
  const nodesByProvider: Record<string, number> = {};
  const cpuFallbacks: string[] = [];
  let current: string | null = null;
  for (const line of report) {
    const head = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (head) {
      current = head[1];
      nodesByProvider[current] = (nodesByProvider[current] ?? 0) + Number(head[2]);
    } else if (current === "CPUExecutionProvider" && provider !== "cpu" && line.trim() && !line.includes("Node placements")) {
      cpuFallbacks.push(line.trim());
    }
  }
  if (!Object.keys(nodesByProvider).length) throw new Error(`no placement counts in onnxruntime's report: ${report.join(" | ")}`);
  return { nodesByProvider, cpuFallbacks, report };
}

/** Creates `graph`'s session for `provider` in a child process with verbose logging and reads its placement. */
export function nodePlacement(provider: string, graph: PlacementGraph, config: LlamaConfig, child = { entry: process.argv[1], execArgv: process.execArgv }): Placement {
  // The child is the benchmark's own entry (gpu-bench.ts from source, or the kit's one bundled file), which hands
  // --placement-child to placementChild.
  const args = [...child.execArgv, child.entry, "--placement-child", provider, graph, JSON.stringify(config)];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`placement child for ${graph} on ${provider} exited ${r.status ?? r.signal}: ${(r.stderr ?? "").split("\n").filter((l) => !l.includes("[V:onnxruntime")).join(" ").slice(-600)}`);
  return parsePlacement(r.stderr, provider);
}

/** The child: one session, verbose log on stderr, then exit. */
export async function placementChild(args: readonly string[]): Promise<void> {
  const [provider, graph, config] = args;
  if (!(graph in PLACEMENT_GRAPHS)) throw new Error(`unknown graph '${graph}'; valid: ${Object.keys(PLACEMENT_GRAPHS).join(", ")}`);
  const model = encodeModel(PLACEMENT_GRAPHS[graph as PlacementGraph](JSON.parse(config) as LlamaConfig));
  await ort.InferenceSession.create(model, { executionProviders: [provider as "cpu"], logSeverityLevel: 0, logVerbosityLevel: 0 });
}
