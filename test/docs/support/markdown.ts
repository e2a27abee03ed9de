// Reads what the docs test needs from a Markdown doc: its tables, the marker comment above each table or
// quoted passage, and its "## " sections. Fenced code blocks are skipped: a table or marker inside one is
// an example, not a claim. The convention is described in docs/results/README.md.

/** `<!-- artifact: <path> view: <module>/<name> -->`: the table or passage below is rendered from <path>. */
const ARTIFACT = /^<!-- artifact: (\S+) view: (\S+) -->$/;
/** `<!-- not measured: <why> -->`: the table below holds settings or descriptions, no measured figure. */
const NOT_MEASURED = /^<!-- not measured: (.+) -->$/;
/** `<!-- no artifact -->`: measured figures kept without an artifact; the paragraph above must say so. */
const NO_ARTIFACT = /^<!-- no artifact -->$/;

export type Marker =
  | { kind: "artifact"; line: number; artifact: string; view: string }
  | { kind: "not measured"; line: number; why: string }
  | { kind: "no artifact"; line: number; paragraphAbove: string };

/** What a marker stands above: a table (header row first) or a passage of prose. */
export type Target = { kind: "table"; line: number; rows: string[][] } | { kind: "passage"; line: number; text: string };

export interface Marked {
  marker: Marker;
  target: Target | null;
}

export interface Section {
  title: string;
  line: number;
  text: string;
  marked: Marked[];
}

export interface Doc {
  marked: Marked[];
  /** Tables with no marker directly above them (blank lines aside). */
  unmarkedTables: { line: number }[];
  sections: Section[];
}

/** A table row's cells, trimmed, with bold markers dropped (they are emphasis, not content). */
export function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, "")
    .replace(/\|$/, "")
    .split("|")
    .map((c) => c.replaceAll("**", "").trim());
}

const isSeparatorRow = (row: string): boolean => cells(row).every((c) => /^:?-{3,}:?$/.test(c));

/** Prose for comparison: bold markers dropped and whitespace (line breaks included) collapsed. */
export const normalise = (text: string): string => text.replaceAll("**", "").replace(/\s+/g, " ").trim();

export function parseDoc(text: string): Doc {
  const lines = text.split("\n");
  const inCode = codeLines(lines);
  const visible = (i: number) => i < lines.length && !inCode[i];
  const isTableLine = (i: number) => visible(i) && lines[i].trimStart().startsWith("|");
  const marked: Marked[] = [];
  const unmarkedTables: { line: number }[] = [];
  let lastMarker: Marker | null = null;
  for (let i = 0; i < lines.length; i++) {
    if (!visible(i)) continue;
    const line = lines[i].trim();
    const marker = readMarker(line, i, lines);
    if (marker) {
      lastMarker = marker;
      let j = i + 1;
      while (visible(j) && lines[j].trim() === "") j++;
      marked.push({ marker, target: visible(j) ? readTarget(lines, j, isTableLine) : null });
      continue;
    }
    if (isTableLine(i) && isTableLine(i + 1) && isSeparatorRow(lines[i + 1])) {
      if (!lastMarker) unmarkedTables.push({ line: i + 1 });
      while (isTableLine(i + 1)) i++;
    }
    if (line !== "") lastMarker = null;
  }
  return { marked, unmarkedTables, sections: sectionsOf(lines, marked) };
}

function readMarker(line: string, i: number, lines: string[]): Marker | null {
  const a = ARTIFACT.exec(line);
  if (a) return { kind: "artifact", line: i + 1, artifact: a[1], view: a[2] };
  const n = NOT_MEASURED.exec(line);
  if (n) return { kind: "not measured", line: i + 1, why: n[1] };
  if (NO_ARTIFACT.test(line)) {
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === "") j--;
    const end = j;
    while (j >= 0 && lines[j].trim() !== "") j--;
    return { kind: "no artifact", line: i + 1, paragraphAbove: lines.slice(j + 1, end + 1).join("\n") };
  }
  return null;
}

/** The table starting at line j, or the passage from j to the next blank line or marker. */
function readTarget(lines: string[], j: number, isTableLine: (i: number) => boolean): Target {
  if (isTableLine(j)) {
    const rows: string[][] = [];
    for (let k = j; isTableLine(k); k++) if (!isSeparatorRow(lines[k])) rows.push(cells(lines[k]));
    return { kind: "table", line: j + 1, rows };
  }
  let k = j;
  while (k < lines.length && lines[k].trim() !== "" && !lines[k].trim().startsWith("<!--")) k++;
  return { kind: "passage", line: j + 1, text: lines.slice(j, k).join("\n") };
}

/** For each line, whether it lies inside a fenced code block (the fences included). */
function codeLines(lines: string[]): boolean[] {
  let open = false;
  return lines.map((l) => {
    if (/^\s*```/.test(l)) {
      open = !open;
      return true;
    }
    return open;
  });
}

/** The doc cut at its "## " headings; the text before the first is a section titled "". */
function sectionsOf(lines: string[], marked: Marked[]): Section[] {
  const starts = [0, ...lines.flatMap((l, i) => (/^## /.test(l) ? [i] : []))].filter((v, i, a) => a.indexOf(v) === i);
  return starts.map((start, k) => {
    const end = k + 1 < starts.length ? starts[k + 1] : lines.length;
    return {
      title: /^## /.test(lines[start]) ? lines[start].slice(3).trim() : "",
      line: start + 1,
      text: lines.slice(start, end).join("\n"),
      marked: marked.filter((m) => m.marker.line > start && m.marker.line <= end),
    };
  });
}

/** Every table of a Markdown text outside code blocks, each as rows of cells (header first). */
export function tablesOf(text: string): string[][][] {
  const lines = text.split("\n");
  const inCode = codeLines(lines);
  const isTableLine = (i: number) => i < lines.length && !inCode[i] && lines[i].trimStart().startsWith("|");
  const tables: string[][][] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!(isTableLine(i) && isTableLine(i + 1) && isSeparatorRow(lines[i + 1]))) continue;
    tables.push((readTarget(lines, i, isTableLine) as { rows: string[][] }).rows);
    while (isTableLine(i + 1)) i++;
  }
  return tables;
}
