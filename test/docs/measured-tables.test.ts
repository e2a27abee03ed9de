// docs - every measured table and quoted figure in the docs is what its artifact says (issue 21): the
// convention is in docs/results/README.md, the checker in support/check.ts, one view per artifact in views/.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkDoc, checkDocs, NO_PROVENANCE } from "./support/check.js";
import { parseDoc } from "./support/markdown.js";

const root = resolve(import.meta.dirname, "../..");

/** Docs that quote measurements: every table in them is marked, every marked figure is checked. */
const MEASURED_DOCS = ["README.md", "docs/BENCHMARKS.md", "docs/DEMO.md", "docs/RELIABILITY.md", "docs/RESULTS.md"];
/**
 * Docs that quote measurements but are being regenerated from new artifacts: exempt from both checks until
 * they carry markers, then they join MEASURED_DOCS. None now (issue 21 moved the last, RELIABILITY.md).
 */
const PENDING_DOCS: string[] = [];

const scratch: string[] = [];
afterEach(() => scratch.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A scratch tree holding `doc` and every artifact it names, copied from the repository. */
function copyOf(doc: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lspo-docs-"));
  scratch.push(dir);
  const artifacts = parseDoc(readFileSync(join(root, doc), "utf8")).marked.flatMap((m) => (m.marker.kind === "artifact" ? [m.marker.artifact] : []));
  for (const p of [doc, ...artifacts]) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    copyFileSync(join(root, p), join(dir, p));
  }
  return dir;
}

/** Replaces the one occurrence of `from` in the file (failing if it is not there exactly once). */
function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  expect(text.split(from).length - 1, `"${from}" in ${file}`).toBe(1);
  writeFileSync(file, text.replace(from, to));
}

describe("docs - measured tables", () => {
  it("every table and quoted figure in the measured docs matches its artifact, and each section says where it was measured", () => {
    expect(checkDocs(root, MEASURED_DOCS)).toEqual([]);
  });

  it("the measured docs name artifacts for their figures (the check is not vacuous)", () => {
    const marked = MEASURED_DOCS.flatMap((d) => parseDoc(readFileSync(join(root, d), "utf8")).marked);
    const artifacts = new Set(marked.flatMap((m) => (m.marker.kind === "artifact" ? [m.marker.artifact] : [])));
    expect(artifacts.size).toBeGreaterThanOrEqual(12);
    expect(marked.filter((m) => m.target?.kind === "table").length).toBeGreaterThanOrEqual(20);
  });

  // A cited artifact that git ignores exists in the working tree that wrote the doc and nowhere else: a
  // fresh clone then fails above with "does not exist". Caught here, where the doc is written.
  it("no artifact the measured docs cite is ignored by git (each one reaches a clone)", () => {
    const cited = [...new Set(MEASURED_DOCS.flatMap((d) => parseDoc(readFileSync(join(root, d), "utf8")).marked.flatMap((m) => (m.marker.kind === "artifact" ? [m.marker.artifact] : []))))];
    expect(cited.length).toBeGreaterThan(0);
    const r = spawnSync("git", ["check-ignore", "--no-index", "--stdin"], { cwd: root, input: cited.join("\n"), encoding: "utf8" });
    // Exit 1: none ignored; 0: some ignored (listed on stdout); anything else: git itself failed.
    expect(r.status === 0 ? r.stdout.trim().split("\n") : [], r.stderr).toEqual([]);
    expect([0, 1], r.stderr).toContain(r.status);
  });

  it("docs outside the list quote no measurement", () => {
    const others = readdirSync(join(root, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`)
      .filter((d) => !MEASURED_DOCS.includes(d) && !PENDING_DOCS.includes(d));
    expect(others.length).toBeGreaterThan(0);
    for (const d of others) {
      const text = readFileSync(join(root, d), "utf8");
      expect(text, d).not.toMatch(/\bmeasured\b|<!-- artifact:|\bat commit [0-9a-f]{7}/i);
    }
  });

  it("fails when an artifact is removed, naming it and the marker", () => {
    const dir = copyOf("docs/BENCHMARKS.md");
    rmSync(join(dir, "bench/results/sampler.json"));
    const problems = checkDocs(dir, ["docs/BENCHMARKS.md"]);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((p) => p.message === "artifact bench/results/sampler.json does not exist")).toBe(true);
    const markerLines = readFileSync(join(dir, "docs/BENCHMARKS.md"), "utf8")
      .split("\n")
      .flatMap((l, i) => (l.startsWith("<!-- artifact: bench/results/sampler.json ") ? [i + 1] : []));
    expect(problems.map((p) => p.line)).toEqual(markerLines);
  });

  it("fails when a number in a table is changed, naming the row, the column and both numbers", () => {
    const dir = copyOf("docs/BENCHMARKS.md");
    edit(join(dir, "docs/BENCHMARKS.md"), "| 1.66M/s | 7.57M/s |", "| 1.76M/s | 7.57M/s |");
    expect(checkDocs(dir, ["docs/BENCHMARKS.md"]).map((p) => p.message)).toEqual([
      'bench/results/sampler.json (view sampler/offer): row 3 ("100k"), column "offer, per CPU-s": the doc says "1.76M/s", the artifact gives "1.66M/s"',
    ]);
  });

  it("fails when a figure quoted in prose is changed", () => {
    const dir = copyOf("docs/BENCHMARKS.md");
    edit(join(dir, "docs/BENCHMARKS.md"), "Median 54,250/s, 11× the goal", "Median 64,250/s, 11× the goal");
    expect(checkDocs(dir, ["docs/BENCHMARKS.md"]).map((p) => p.message)).toEqual([
      'bench/results/verifier.json (view verifier/goal): the passage does not say "Median 54,250/s, 11× the goal"',
    ]);
  });

  it("fails when the artifact's number changes under an unchanged doc", () => {
    const dir = copyOf("docs/DEMO.md");
    edit(join(dir, "configs/models/demo-base/pretrain.json"), '"correct": 108,', '"correct": 109,');
    expect(checkDocs(dir, ["docs/DEMO.md"]).map((p) => p.message)).toEqual([
      expect.stringMatching(/^configs\/models\/demo-base\/pretrain\.json \(view pretrain\/base\): row 1 \("held-out greedy accuracy \(512 problems\)"\), column "": the doc says "21\.1% \(108\/512\)/),
    ]);
  });

  it("fails when a recorded chaos run changes under an unchanged doc (RELIABILITY.md's series)", () => {
    const dir = copyOf("docs/RELIABILITY.md");
    const file = join(dir, "docs/results/chaos/series.json");
    const series = JSON.parse(readFileSync(file, "utf8"));
    series.records[0].unaccounted.push({ scenario: "kill 1", lost: 1, duplicates: 0 });
    writeFileSync(file, JSON.stringify(series));
    expect(checkDocs(dir, ["docs/RELIABILITY.md"]).map((p) => p.message)).toEqual([
      expect.stringMatching(/^docs\/results\/chaos\/series\.json \(view chaos\/lost\): the passage does not say "\d+ of \d+ scenario runs ended/),
      `docs/results/chaos/series.json (view chaos/lost): the passage does not say "${series.records[0].dir} kill 1: lost 1, duplicates 0"`,
    ]);
  });
});

describe("docs - the marker rules", () => {
  /** A scratch tree with one Markdown artifact whose table.md-style footer carries `label`. */
  function withTableArtifact(label: string | null): string {
    const dir = mkdtempSync(join(tmpdir(), "lspo-docs-"));
    scratch.push(dir);
    mkdirSync(join(dir, "docs/results/runs/x"), { recursive: true });
    writeFileSync(join(dir, "docs/results/runs/x/table.md"), `| algo | acc |\n| --- | --- |\n| dapo | 20.1% |\n${label ? `\n_${label}; 2 cpus; 2026-12-04T00:00:00Z_\n` : ""}`);
    return dir;
  }
  const doc = (claim: string) => `# t\n\n## Results\n\n${claim}\n\n<!-- artifact: docs/results/runs/x/table.md view: markdown/table-1 -->\n| algo | acc |\n| --- | --- |\n| dapo | 20.1% |\n`;

  it("a section says where its artifact was measured, in the artifact's words", () => {
    const dir = withTableArtifact("at commit abc1234");
    expect(checkDoc(dir, "d.md", doc("Measured at commit abc1234."))).toEqual([]);
    expect(checkDoc(dir, "d.md", doc("Measured on the shared machine.")).map((p) => p.message)).toEqual([
      'section "Results": docs/results/runs/x/table.md was measured at commit abc1234; the section must say so in those words',
    ]);
  });

  it('"at commit X" needs an artifact of the section that records a clean tree at X', () => {
    const uncommitted = withTableArtifact("uncommitted (based on abc1234)");
    expect(checkDoc(uncommitted, "d.md", doc("Measured uncommitted (based on abc1234), at commit abc1234.")).map((p) => p.message)).toEqual([
      'section "Results": "at commit abc1234": no artifact of this section records a clean tree at abc1234 (write what its provenance says)',
    ]);
    const unrecorded = withTableArtifact(null);
    expect(checkDoc(unrecorded, "d.md", doc(`Measured at def5678 (${NO_PROVENANCE}).`)).map((p) => p.message)).toEqual([
      'section "Results": "Measured at def5678": no artifact of this section records a clean tree at def5678 (write what its provenance says)',
    ]);
    expect(checkDoc(unrecorded, "d.md", doc("Result committed in def5678.")).map((p) => p.message)).toEqual([
      `section "Results": docs/results/runs/x/table.md record no provenance; the section must say "${NO_PROVENANCE}"`,
    ]);
  });

  it("every table is marked; one kept without an artifact says so above it", () => {
    const table = "| a | b |\n| --- | --- |\n| 1 | 2 |\n";
    expect(checkDoc(root, "d.md", `# t\n\n${table}`).map((p) => p.line)).toEqual([3]);
    expect(checkDoc(root, "d.md", `# t\n\n<!-- not measured: settings -->\n${table}`)).toEqual([]);
    expect(checkDoc(root, "d.md", `# t\n\nNo artifact: the run directory was not kept.\n\n<!-- no artifact -->\n${table}`)).toEqual([]);
    expect(checkDoc(root, "d.md", `# t\n\nFrom an earlier run.\n\n<!-- no artifact -->\n${table}`).map((p) => p.message)).toEqual([
      'a table kept without an artifact: the paragraph above it must say "no artifact"',
    ]);
    expect(checkDoc(root, "d.md", `# t\n\n\`\`\`\n${table}\`\`\`\n`)).toEqual([]);
  });
});
