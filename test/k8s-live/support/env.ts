// A container's environment, resolved as the kubelet does: the image's ENV, then envFrom (in order), then
// env (later entries win), with valueFrom read from ConfigMaps, Secrets and the pod's own fields, and
// $(VAR) references expanded against what came before. A missing non-optional reference is an error
// naming it: on a real cluster the pod would sit in CreateContainerConfigError.
import type { Container } from "./manifests.js";

export interface PodFields {
  name: string;
  namespace: string;
  ip: string;
  nodeName: string;
  labels: Record<string, string>;
  serviceAccountName?: string;
  hostIP?: string;
}

export interface EnvSources {
  configMap(name: string): Record<string, string> | undefined;
  secret(name: string): Record<string, string> | undefined;
}

export class EnvError extends Error {
  override name = "EnvError";
}

export function fieldRef(path: string, pod: PodFields): string {
  switch (path) {
    case "metadata.name": return pod.name;
    case "metadata.namespace": return pod.namespace;
    case "status.podIP": return pod.ip;
    case "status.podIPs": return pod.ip;
    case "status.hostIP": return pod.hostIP ?? "";
    case "spec.nodeName": return pod.nodeName;
    case "spec.serviceAccountName": return pod.serviceAccountName ?? "default";
  }
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return pod.labels[label[1]] ?? "";
  throw new EnvError(`fieldRef ${path} is not supported by the live check`);
}

/** `$(NAME)` becomes NAME's value when defined; `$$(NAME)` stays literal `$(NAME)`; unknown stays as is. */
export function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => {
    if (m === "$$") return "$";
    return name !== undefined && name in env ? env[name] : m;
  });
}

export function resolveEnv(c: Container, pod: PodFields, src: EnvSources, imageEnv: Record<string, string> = {}): Record<string, string> {
  const where = `container ${c.name} of pod ${pod.name}`;
  const env: Record<string, string> = { ...imageEnv };
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const data = from.configMapRef ? src.configMap(ref.name) : src.secret(ref.name);
    if (!data) {
      if (ref.optional) continue;
      throw new EnvError(`${where}: envFrom ${kind} ${ref.name} does not exist`);
    }
    for (const [k, v] of Object.entries(data)) env[(from.prefix ?? "") + k] = v;
  }
  for (const e of c.env ?? []) {
    if (e.valueFrom === undefined) {
      env[e.name] = expand(e.value ?? "", env);
      continue;
    }
    const vf = e.valueFrom;
    if (vf.fieldRef) env[e.name] = fieldRef(vf.fieldRef.fieldPath, pod);
    else if (vf.configMapKeyRef || vf.secretKeyRef) {
      const ref = vf.configMapKeyRef ?? vf.secretKeyRef;
      const kind = vf.configMapKeyRef ? "ConfigMap" : "Secret";
      const data = vf.configMapKeyRef ? src.configMap(ref.name) : src.secret(ref.name);
      const v = data?.[ref.key];
      if (v === undefined) {
        if (ref.optional) continue;
        throw new EnvError(`${where}: env ${e.name} refers to ${kind} ${ref.name} key ${ref.key}, which ${data ? "has no such key" : "does not exist"}`);
      }
      env[e.name] = v;
    } else if (vf.resourceFieldRef) {
      env[e.name] = "0"; // resources are not enforced here (README)
    } else throw new EnvError(`${where}: env ${e.name} has an unsupported valueFrom ${JSON.stringify(vf)}`);
  }
  return env;
}
