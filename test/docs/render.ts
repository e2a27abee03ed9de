// `node --conditions=source --import tsx test/docs/render.ts <doc> [--write]`: what each artifact marker of
// <doc> renders from its file now, for refreshing a doc whose artifacts were replaced (a new chaos series, a
// rerun benchmark). Tables print as Markdown; `--write` puts them in the doc in place of the old ones (a cell
// the view leaves null, a description, keeps the doc's text). Quoted figures are listed under the passage
// they belong to, each marked present or missing: prose around a number is rewritten by hand, not by this.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { readArtifact } from "./support/artifacts.js";
import { normalise, parseDoc } from "./support/markdown.js";
import { VIEWS } from "./views/index.js";

const root = resolve(import.meta.dirname, "../..");
const [doc, flag] = process.argv.slice(2);
if (!doc || (flag && flag !== "--write")) {
  console.error("usage: node --conditions=source --import tsx test/docs/render.ts <doc, relative to the repository> [--write]");
  process.exit(2);
}
const lines = readFileSync(join(root, doc), "utf8").split("\n");
// Replacements are collected first and applied from the bottom up, so earlier line numbers stay valid.
const replace: { from: number; count: number; rows: string[] }[] = [];

for (const m of parseDoc(lines.join("\n")).marked) {
  if (m.marker.kind !== "artifact" || !m.target) continue;
  const { artifact: path, view: name } = m.marker;
  const [module, view] = name.split("/");
  const artifact = readArtifact(root, path);
  const render = VIEWS[module]?.[view];
  console.log(`\n${doc}:${m.target.line} (${path}, view ${name})`);
  if (!artifact || !render) {
    console.log(`  ${!artifact ? "no such artifact" : "no such view"}`);
    continue;
  }
  const rendered = render(artifact.data);
  if ("quotes" in rendered) {
    const text = m.target.kind === "passage" ? normalise(m.target.text) : "";
    for (const q of rendered.quotes) console.log(`  ${text.includes(normalise(q)) ? "present" : "MISSING"}: ${q}`);
    continue;
  }
  if (m.target.kind !== "table") continue;
  const start = m.target.line - 1;
  let end = start;
  while (end + 1 < lines.length && lines[end + 1].trimStart().startsWith("|")) end++;
  // The doc's cells as written, bold kept (the checker's rows drop it); the separator row left out.
  const old = lines.slice(start, end + 1).filter((_, k) => k !== 1).map((l) => l.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim()));
  // The doc's own cell where it says the same (it may be bold) or where the view holds nothing.
  const cell = (i: number, j: number, v: string | null) => {
    const mine = old[i]?.[j];
    return v === null || (mine !== undefined && normalise(mine) === normalise(v)) ? (mine ?? "") : v;
  };
  const row = (cells: string[]) => `|${cells.map((c) => (c ? ` ${c} ` : " ")).join("|")}|`;
  const body = rendered.table.map((r, i) => row(r.map((v, j) => cell(i, j, v))));
  // The separator row as the doc writes it (alignment), or a plain one for a new column count.
  const separator = lines[start + 1].split("|").length - 2 === rendered.table[0].length ? lines[start + 1] : row(rendered.table[0].map(() => "---"));
  const rows = [body[0], separator, ...body.slice(1)];
  console.log(rows.map((r) => `  ${r}`).join("\n"));
  replace.push({ from: start, count: end - start + 1, rows });
}

if (flag === "--write") {
  for (const r of replace.sort((a, b) => b.from - a.from)) lines.splice(r.from, r.count, ...r.rows);
  writeFileSync(join(root, doc), lines.join("\n"));
  console.error(`\n${doc}: ${replace.length} tables rewritten from their artifacts; check the quotes marked MISSING above by hand`);
}
