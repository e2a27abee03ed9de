// Command line of `npm run test:k8s-live`.
import { parseArgs } from "node:util";

export interface LiveOptions {
  overlay: string;
  nodes: number;
  report?: string;
  gpusPerNode: number;
  set: string[];
  env: string[];
  patch: string[];
  pvc: string[];
  timeoutS: number;
  keep: boolean;
}

export const USAGE = `npm run test:k8s-live -- --overlay <name|dir> [--nodes N] [--report file] [--gpus-per-node G]
    [--set key=value]... [--env NAME=value]... [--patch file]... [--pvc claim=hostdir]... [--timeout S] [--keep]
  Renders the overlay (kubectl kustomize) and runs it on a cluster of network namespaces (test/k8s-live/README.md).
  Exit 0: the run completed; 1: it failed (reason on stderr and in the report); 2: this machine cannot build the cluster.`;

export function parseOptions(argv: string[]): LiveOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      overlay: { type: "string" },
      nodes: { type: "string", default: "2" },
      report: { type: "string" },
      "gpus-per-node": { type: "string", default: "2" },
      set: { type: "string", multiple: true, default: [] },
      env: { type: "string", multiple: true, default: [] },
      patch: { type: "string", multiple: true, default: [] },
      pvc: { type: "string", multiple: true, default: [] },
      timeout: { type: "string", default: "600" },
      keep: { type: "boolean", default: false },
    },
  });
  if (!values.overlay) throw new Error(`--overlay is required\n${USAGE}`);
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got ${v})`);
    return n;
  };
  for (const [name, list] of [["set", values.set], ["env", values.env], ["pvc", values.pvc]] as const) {
    for (const kv of list) if (!/^[^=]+=/.test(kv)) throw new Error(`--${name} takes key=value (got ${kv})`);
  }
  return {
    overlay: values.overlay,
    nodes: int("nodes", values.nodes!, 1),
    report: values.report,
    gpusPerNode: int("gpus-per-node", values["gpus-per-node"]!, 0),
    set: values.set!,
    env: values.env!,
    patch: values.patch!,
    pvc: values.pvc!,
    timeoutS: int("timeout", values.timeout!, 1),
    keep: values.keep!,
  };
}

export function splitKv(kv: string): [string, string] {
  const i = kv.indexOf("=");
  return [kv.slice(0, i), kv.slice(i + 1)];
}
