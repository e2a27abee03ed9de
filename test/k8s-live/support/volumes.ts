// A pod's volumes as per-pod host directories, and the mounts that put them at each container's mountPath
// inside the container's own mount namespace. ConfigMaps and Secrets become files (items, defaultMode,
// group fsGroup), emptyDirs world-writable directories, PVCs one host directory per claim shared by every
// pod that mounts it (fsGroup applied as the kubelet does: group, group-writable, setgid directories).
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import type { Container, PodSpec } from "./manifests.js";

export interface VolumeSources {
  configMap(name: string): Record<string, string> | undefined;
  secret(name: string): Record<string, Buffer> | undefined;
  /** host directory of a claim (made on first use) */
  claim(name: string): string;
}

export interface MountPlan {
  source: string;
  target: string;
  readOnly: boolean;
  file: boolean;
}

function writeKeys(dir: string, data: Record<string, string | Buffer>, items: Array<{ key: string; path: string; mode?: number }> | undefined, mode: number, gid: number | undefined, what: string): void {
  mkdirSync(dir, { recursive: true });
  const list: Array<{ key: string; path: string; mode?: number }> = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const it of list) {
    if (!(it.key in data)) throw new Error(`${what} has no key ${it.key}`);
    const f = join(dir, it.path);
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, data[it.key]);
    chmodSync(f, it.mode ?? mode);
    if (gid !== undefined) chownSync(f, 0, gid);
  }
  chmodSync(dir, 0o755);
}

/** fsGroup on a volume: group-owned, group-writable, setgid directories (the kubelet's ownership change). */
export function applyFsGroup(path: string, gid: number): void {
  const st = lstatSync(path);
  chownSync(path, st.uid, gid);
  if (st.isDirectory()) {
    chmodSync(path, (st.mode & 0o7777) | 0o2070);
    for (const e of readdirSync(path)) applyFsGroup(join(path, e), gid);
  } else if (st.isFile()) chmodSync(path, (st.mode & 0o7777) | 0o060);
}

/** Makes every volume of the pod under `podDir/volumes`; returns name -> host path. */
export function materializeVolumes(podName: string, spec: PodSpec, podDir: string, src: VolumeSources, claimOf: (volumeName: string) => string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const gid = spec.securityContext?.fsGroup;
  for (const v of spec.volumes ?? []) {
    const dir = join(podDir, "volumes", v.name);
    const what = `volume ${v.name} of pod ${podName}`;
    if (v.configMap) {
      const data = src.configMap(v.configMap.name);
      if (!data) throw new Error(`${what}: ConfigMap ${v.configMap.name} does not exist in its namespace (an object rendered without metadata.namespace lands in "default", as with kubectl apply -k)`);
      writeKeys(dir, data, v.configMap.items, v.configMap.defaultMode ?? 0o644, gid, `ConfigMap ${v.configMap.name}`);
    } else if (v.secret) {
      const data = src.secret(v.secret.secretName);
      if (!data) throw new Error(`${what}: Secret ${v.secret.secretName} does not exist (deploy/make-secrets.sh makes lspo's)`);
      writeKeys(dir, data, v.secret.items, v.secret.defaultMode ?? 0o644, gid, `Secret ${v.secret.secretName}`);
    } else if (v.emptyDir) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
    } else if (v.persistentVolumeClaim) {
      const claimDir = src.claim(v.persistentVolumeClaim.claimName);
      if (gid !== undefined) applyFsGroup(claimDir, gid);
      out.set(v.name, claimDir);
      continue;
    } else throw new Error(`${what}: volume type ${Object.keys(v).filter((k) => k !== "name").join(", ")} is not supported by the live check`);
    out.set(v.name, dir);
  }
  // volumeClaimTemplates (StatefulSets): the claim `<template>-<pod>`, mounted under the template's name
  for (const m of spec.containers.flatMap((c) => c.volumeMounts ?? [])) {
    if (out.has(m.name)) continue;
    const claim = claimOf(m.name);
    if (!claim) continue;
    const claimDir = src.claim(claim);
    if (gid !== undefined) applyFsGroup(claimDir, gid);
    out.set(m.name, claimDir);
  }
  return out;
}

/** The bind mounts of one container: host source, target, read-only, whether it is a file (subPath). */
export function containerMounts(c: Container, volumes: Map<string, string>, podName: string): MountPlan[] {
  return (c.volumeMounts ?? []).map((m) => {
    const base = volumes.get(m.name);
    if (!base) throw new Error(`container ${c.name} of pod ${podName} mounts volume ${m.name}, which the pod does not define`);
    let source = base;
    let file = false;
    if (m.subPath) {
      source = join(base, m.subPath);
      if (!existsSync(source)) mkdirSync(source, { recursive: true }); // the kubelet makes a missing subPath
      file = lstatSync(source).isFile();
    }
    return { source, target: m.mountPath, readOnly: !!m.readOnly, file };
  });
}

/**
 * The root-filesystem paths a container's mounts need that do not exist: for each target not inside
 * another mount of the same container, its first missing ancestor. Those are made empty on the machine
 * (and removed at teardown); inside the container, a tmpfs over a missing ancestor takes whatever deeper
 * mount points are needed, so nothing but empty directories is ever written outside the check's dir.
 */
export function missingAncestors(plans: MountPlan[], exists: (p: string) => boolean): Array<{ path: string; isTarget: boolean; file: boolean }> {
  const out: Array<{ path: string; isTarget: boolean; file: boolean }> = [];
  const targets = plans.map((p) => p.target);
  for (const p of plans) {
    if (targets.some((t) => t !== p.target && p.target.startsWith(t.endsWith("/") ? t : t + "/"))) continue;
    let cur = "/";
    for (const part of p.target.split("/").filter(Boolean)) {
      cur = posix.join(cur, part);
      if (!exists(cur)) {
        if (!out.some((o) => o.path === cur)) out.push({ path: cur, isTarget: cur === p.target, file: cur === p.target && p.file });
        break;
      }
    }
  }
  return out;
}

/**
 * The image's own files (this checkout plays the image's /app) must stay visible whatever a volume covers:
 * a checkout under /tmp is hidden by the pod's /tmp emptyDir. It is bound to `stage` first, and bound back at
 * its own path when a mount covered it; the container then starts in `cwd`.
 */
export interface ImageView {
  repo: string;
  stage: string;
  cwd: string;
}

/** The shell that builds a container's mount namespace; it ends by exec-ing "$@". */
export function mountScript(plans: MountPlan[], tmpfsAt: string[], hostname: string, view?: ImageView): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = ["set -e"];
  if (view) lines.push(`mkdir -p ${q(view.stage)}`, `mount --bind ${q(view.repo)} ${q(view.stage)}`);
  for (const a of tmpfsAt) lines.push(`mount -t tmpfs -o mode=0755,size=4m lspo-live ${q(a)}`);
  const sorted = [...plans].sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  for (const p of sorted) {
    if (p.file) lines.push(`mkdir -p ${q(posix.dirname(p.target))}; [ -e ${q(p.target)} ] || : > ${q(p.target)}`);
    else lines.push(`mkdir -p ${q(p.target)}`);
    lines.push(`mount --bind ${q(p.source)} ${q(p.target)}`);
  }
  for (const p of sorted) if (p.readOnly) lines.push(`mount -o remount,bind,ro ${q(p.target)}`);
  if (view) {
    lines.push(`[ -e ${q(`${view.repo}/package.json`)} ] || { mkdir -p ${q(view.repo)}; mount --bind ${q(view.stage)} ${q(view.repo)}; }`);
    lines.push(`cd ${q(view.cwd)}`);
  }
  lines.push(`hostname ${q(hostname)}`);
  lines.push('exec "$@"');
  return lines.join("\n");
}

/** A claim's host directory, pre-provisioned from a host directory when --pvc names it (a static PV). */
export function provisionClaim(dir: string, from?: string): string {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    if (from) cpSync(from, dir, { recursive: true });
  }
  return dir;
}
