// Node labels as written in LSPO_NODE_LABELS: `role=rollout,zone=a`. Placement selectors match them.
const KEY_RE = /^[A-Za-z0-9_.\/-]+$/;

/** Parses `k=v,k2=v2` (blanks around items ignored; "" = no labels); errors name the bad item. */
export function parseLabels(text: string, what = "LSPO_NODE_LABELS"): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (!item) continue;
    const eq = item.indexOf("=");
    const key = eq > 0 ? item.slice(0, eq).trim() : "";
    if (!KEY_RE.test(key)) throw new Error(`${what}: '${item}' is not key=value (keys: letters, digits, '_', '.', '/', '-'), e.g. role=rollout,zone=a`);
    if (key in out) throw new Error(`${what}: label '${key}' is given twice`);
    out[key] = item.slice(eq + 1).trim();
  }
  return out;
}
