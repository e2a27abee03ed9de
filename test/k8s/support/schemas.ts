// Kubernetes, KEDA and Prometheus Operator schema checks for rendered objects: the schema library (kubernetes-models 4.x,
// @kubernetes-models/keda) validates types and required fields; `unknownFields` adds what it does not
// check, fields the schema does not define (a misspelt `imagePullPolcy` would otherwise pass silently).
import { Namespace, ServiceAccount, ConfigMap, Secret, Service, PersistentVolumeClaim } from "kubernetes-models/v1";
import { DaemonSet, Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";
import type { Resource } from "./kustomize.js";

interface ModelClass {
  new (data: any): { validate(): void };
}

// apiVersion/kind -> model. Registering twice throws; an object of another kind fails, listing these.
const MODELS = new Map<string, ModelClass>();
function register(apiVersion: string, kind: string, model: ModelClass): void {
  const key = `${apiVersion}/${kind}`;
  if (MODELS.has(key)) throw new Error(`schema for ${key} registered twice`);
  MODELS.set(key, model);
}
register("v1", "Namespace", Namespace);
register("v1", "ServiceAccount", ServiceAccount);
register("v1", "ConfigMap", ConfigMap);
register("v1", "Secret", Secret);
register("v1", "Service", Service);
register("v1", "PersistentVolumeClaim", PersistentVolumeClaim);
register("apps/v1", "DaemonSet", DaemonSet);
register("apps/v1", "Deployment", Deployment);
register("apps/v1", "StatefulSet", StatefulSet);
register("batch/v1", "Job", Job);
register("networking.k8s.io/v1", "NetworkPolicy", NetworkPolicy);
register("policy/v1", "PodDisruptionBudget", PodDisruptionBudget);
register("keda.sh/v1alpha1", "ScaledObject", ScaledObject);
register("monitoring.coreos.com/v1", "PodMonitor", PodMonitor);

function modelFor(r: Resource): ModelClass {
  const model = MODELS.get(`${r.apiVersion}/${r.kind}`);
  if (!model) {
    throw new Error(`no schema for ${r.apiVersion}/${r.kind} (${r.metadata?.name}); known: ${[...MODELS.keys()].join(", ")}`);
  }
  return model;
}

interface SchemaError { instancePath: string; message?: string; keyword?: string }

/** Schema errors for `r` as "path: message" lines (empty when valid). */
export function schemaErrors(r: unknown): string[] {
  const res = r as Resource;
  try {
    new (modelFor(res))(res).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: SchemaError[] }).errors;
    if (!errors) throw err;
    return errors.map((e) => `${e.instancePath || "/"}: ${e.message ?? e.keyword}`);
  }
}

function errorPaths(r: Resource): string[] {
  try {
    new (modelFor(r))(r).validate();
    return [];
  } catch (err) {
    return ((err as { errors?: SchemaError[] }).errors ?? []).map((e) => e.instancePath);
  }
}

// A value no schema type accepts (not a string, number, boolean, object, array or null).
const PROBE = Symbol("probe");

function setAt(doc: any, path: Array<string | number>, value: unknown): void {
  let node = doc;
  for (const k of path.slice(0, -1)) node = node[k];
  node[path[path.length - 1]] = value;
}

function pointer(path: Array<string | number>): string {
  return "/" + path.map((k) => String(k).replace(/~/g, "~0").replace(/\//g, "~1")).join("/");
}

/**
 * Fields of `r` the schema does not define, as JSON pointers. How: each field in turn is replaced by a value of
 * no JSON type; a field the schema defines then fails validation at its own path, an undefined one does not.
 * The object must be valid to begin with (check schemaErrors first).
 */
export function unknownFields(r: unknown): string[] {
  const res = r as Resource;
  const unknown: string[] = [];
  // apiVersion and kind are checked by the model lookup itself (an exact registry key).
  const checkedByLookup = new Set(["/apiVersion", "/kind"]);
  const walk = (node: unknown, path: Array<string | number>): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...path, i]));
      return;
    }
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const at = [...path, key];
      if (checkedByLookup.has(pointer(at))) continue;
      const probe = structuredClone(res);
      setAt(probe, at, PROBE);
      const where = pointer(at);
      if (!errorPaths(probe).some((p) => p === where || p.startsWith(where + "/"))) {
        unknown.push(where);
        continue; // nothing below an unknown field is known either
      }
      walk(value, at);
    }
  };
  walk(res, []);
  return unknown;
}
