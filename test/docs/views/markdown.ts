// A Markdown artifact's own tables, for docs that show a table a command wrote as Markdown (an experiment's
// table.md): markdown/table-1 is its first table, markdown/table-2 its second, and so on. The doc's table
// must then be the artifact's, cell for cell.
import { tablesOf } from "../support/markdown.js";
import type { View } from "./view.js";

const nth = (n: number): View => (text: string) => {
  const table = tablesOf(text)[n - 1];
  if (!table) throw new Error(`the artifact has no table ${n}`);
  return { table };
};

export const views: Record<string, View> = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`table-${i + 1}`, nth(i + 1)]));
