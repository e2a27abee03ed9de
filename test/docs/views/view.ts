// A view renders what a doc shows from one artifact: a whole table (header row first; `null` for a cell
// the artifact does not hold, such as a description) or the figures a passage of prose quotes, each of
// which must appear in it verbatim. Views are named <module>/<name> in the doc's marker (docs/results/README.md).
export type Rendered = { table: (string | null)[][] } | { quotes: string[] };

// Artifacts are JSON written by the benchmarks; a view reads the fields it renders and fails loudly
// (TypeError) when one is missing, which the checker reports against the doc's marker.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type View = (data: any) => Rendered;
