// The docs test's checker: every table in a doc that quotes measurements names its artifact (or says it
// holds no measured figure, or that it has no artifact), the artifact exists, and the table or passage
// under each marker is what its view renders from the artifact. Each "## " section that quotes artifacts
// says where they were measured exactly as their provenance does; "at commit X" may only be written where an
// artifact of that section records a clean tree at X. The convention: docs/results/README.md.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VIEWS } from "../views/index.js";
import type { Rendered } from "../views/view.js";
import { readArtifact, type Artifact } from "./artifacts.js";
import { normalise, parseDoc, type Marked, type Section } from "./markdown.js";

export interface Problem {
  doc: string;
  line: number;
  message: string;
}

/** What a section must say when one of its artifacts records no provenance (it predates the recording). */
export const NO_PROVENANCE = "no provenance recorded";

/** "at commit <sha>" or "measured at <sha>": a claim that a clean checkout of <sha> reproduces the figures. */
const COMMIT_CLAIM = /(?<![A-Za-z])(?:measured at|at)(?: commit)? ([0-9a-f]{7,40})\b/gi;

export function checkDocs(root: string, docs: string[]): Problem[] {
  return docs.flatMap((doc) => checkDoc(root, doc, readFileSync(join(root, doc), "utf8")));
}

export function checkDoc(root: string, doc: string, text: string): Problem[] {
  const parsed = parseDoc(text);
  const problems: Problem[] = [];
  const say = (line: number, message: string) => problems.push({ doc, line, message });

  for (const t of parsed.unmarkedTables) {
    say(t.line, "table with no marker above it: <!-- artifact: <path> view: <module>/<name> -->, <!-- not measured: <why> --> or <!-- no artifact -->");
  }
  const artifacts = new Map<string, Artifact | null>();
  for (const m of parsed.marked) {
    if (!m.target) say(m.marker.line, "marker with nothing below it");
    if (m.marker.kind === "no artifact" && !/no artifact/i.test(m.marker.paragraphAbove)) {
      say(m.marker.line, 'a table kept without an artifact: the paragraph above it must say "no artifact"');
    }
    if (m.marker.kind !== "artifact") continue;
    const { artifact: path, view } = m.marker;
    if (!artifacts.has(path)) artifacts.set(path, readArtifact(root, path));
    const artifact = artifacts.get(path);
    if (!artifact) {
      say(m.marker.line, `artifact ${path} does not exist`);
      continue;
    }
    for (const message of compare(m, artifact)) say(m.target?.line ?? m.marker.line, `${path} (view ${view}): ${message}`);
  }
  for (const s of parsed.sections) {
    for (const message of checkProvenance(s, artifacts)) say(s.line, `section "${s.title}": ${message}`);
  }
  return problems;
}

/** What differs between the marked table or passage and what its view renders from the artifact. */
function compare(m: Marked, artifact: Artifact): string[] {
  if (m.marker.kind !== "artifact" || !m.target) return [];
  const [module, name] = m.marker.view.split("/");
  const view = VIEWS[module]?.[name];
  if (!view) return [`no view ${m.marker.view} in test/docs/views/`];
  let rendered: Rendered;
  try {
    rendered = view(artifact.data);
  } catch (e) {
    return [`the view cannot read the artifact: ${(e as Error).message}`];
  }
  const target = m.target;
  if ("quotes" in rendered) {
    if (target.kind !== "passage") return ["the view quotes figures in prose, but a table is marked"];
    const text = normalise(target.text);
    return rendered.quotes.filter((q) => !text.includes(normalise(q))).map((q) => `the passage does not say "${q}"`);
  }
  if (target.kind !== "table") return ["the view renders a table, but prose is marked"];
  const [want, got] = [rendered.table, target.rows];
  const header = want[0] as string[];
  const out: string[] = [];
  if (want.length !== got.length) out.push(`the table has ${got.length - 1} rows, the artifact ${want.length - 1}`);
  for (let i = 0; i < Math.min(want.length, got.length); i++) {
    if (want[i].length !== got[i].length) out.push(`row ${i} has ${got[i].length} cells, the view ${want[i].length}`);
    want[i].forEach((cell, j) => {
      if (cell === null || normalise(cell) === normalise(got[i][j] ?? "")) return;
      const where = i === 0 ? `header, column ${j + 1}` : `row ${i} ("${got[i][0]}"), column "${header[j]}"`;
      out.push(`${where}: the doc says "${got[i][j] ?? ""}", the artifact gives "${cell}"`);
    });
  }
  return out;
}

function checkProvenance(s: Section, artifacts: Map<string, Artifact | null>): string[] {
  const quoted = [...new Set(s.marked.flatMap((m) => (m.marker.kind === "artifact" ? [m.marker.artifact] : [])))]
    .map((p) => artifacts.get(p))
    .filter((a): a is Artifact => !!a);
  const out: string[] = [];
  const text = normalise(s.text);
  for (const a of quoted) {
    if (a.provenance && !text.includes(a.provenance)) out.push(`${a.path} was measured ${a.provenance}; the section must say so in those words`);
  }
  const unrecorded = quoted.filter((a) => !a.provenance);
  if (unrecorded.length && !text.toLowerCase().includes(NO_PROVENANCE)) {
    out.push(`${unrecorded.map((a) => a.path).join(", ")} record no provenance; the section must say "${NO_PROVENANCE}"`);
  }
  const clean = quoted.flatMap((a) => (a.provenance?.startsWith("at commit ") ? [a.provenance.slice(10)] : []));
  for (const claim of text.matchAll(COMMIT_CLAIM)) {
    const sha = claim[1].toLowerCase();
    if (!/\d/.test(sha) || !/[a-f]/.test(sha) || clean.some((c) => c.startsWith(sha) || sha.startsWith(c))) continue;
    out.push(`"${claim[0]}": no artifact of this section records a clean tree at ${sha} (write what its provenance says)`);
  }
  return out;
}
