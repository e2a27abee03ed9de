// Matrices: `\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}` (normalize.ts has made bmatrix, Bmatrix and
// matrix into pmatrix) read as rows of cells, so that each cell is compared as an answer of its own and
// spacing or a trailing row break changes nothing.

/** The matrix's cells by row, or undefined when the answer is not one matrix or its rows differ in length. */
export function matrixCells(s: string): string[][] | undefined {
  const m = /^\\begin\{(pmatrix|vmatrix)\}([\s\S]*)\\end\{\1\}$/.exec(s);
  if (!m || m[2].includes("\\begin{")) return undefined;
  const rows = m[2].split("\\\\").map((r) => r.trim());
  if (rows.length > 1 && rows[rows.length - 1] === "") rows.pop(); // a trailing `\\`
  const cells = rows.map((r) => r.split("&").map((c) => c.trim()));
  if (cells.some((r) => r.length !== cells[0].length)) return undefined;
  return m[1] === "vmatrix" ? [["det"], ...cells] : cells; // a determinant never equals a matrix
}
