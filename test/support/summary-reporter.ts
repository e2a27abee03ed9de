import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/** One skipped test: where, and why (the skip note when the test gave one, else its name). */
export interface SkippedTest {
  file: string;
  test: string;
  reason: string;
}

// Ends every run with one machine-readable line: `N passed, N failed, N skipped`, preceded by the skipped
// tests grouped by reason, so a skip is never silent. CI reads the line; a run that executed no test says so
// instead of looking green. With LSPO_SKIP_REPORT set, the skips are also written there as JSON, for
// scripts/test.mjs to hold against its allow-list under CI.
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: SkippedTest[] = [];
    for (const mod of testModules) {
      if (mod.state() === "failed" && [...mod.children.allTests()].length === 0) failed++; // a file that failed to load
      for (const test of mod.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed++;
        else if (result.state === "failed") failed++;
        else {
          const note = "note" in result && typeof result.note === "string" ? result.note : "";
          skipped.push({ file: relative(process.cwd(), mod.moduleId), test: test.fullName, reason: note || test.name });
        }
      }
    }
    if (skipped.length) {
      const byReason = new Map<string, SkippedTest[]>();
      for (const s of skipped) byReason.set(s.reason, [...(byReason.get(s.reason) ?? []), s]);
      process.stdout.write(`\nskipped tests, by reason:\n`);
      for (const [reason, tests] of byReason) process.stdout.write(`  ${tests.length} x ${reason}  (${[...new Set(tests.map((t) => t.file))].join(", ")})\n`);
    }
    if (process.env.LSPO_SKIP_REPORT) writeFileSync(process.env.LSPO_SKIP_REPORT, JSON.stringify(skipped, null, 1));
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}
