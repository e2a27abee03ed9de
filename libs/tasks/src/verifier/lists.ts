// Tuples, intervals, sets and bare comma lists. `\left( 1, 2 \right)` has already become `(1,2)`;
// here it is split into items at top-level commas so each item can be compared on its own.

export interface ListAnswer {
  /** `(`, `[`, `\{`, or "" for a bare list like `1,2`. */
  open: string;
  close: string;
  items: string[];
  /** Sets and bare lists (several answers to one question) compare regardless of order. */
  unordered: boolean;
}

const OPENERS = new Set(["(", "[", "{"]);
const CLOSERS = new Set([")", "]", "}"]);

/** Splits at commas that are outside every bracket; undefined when brackets do not balance. */
function topLevelSplit(s: string): string[] | undefined {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c) && --depth < 0) return undefined;
    else if (c === "," && depth === 0) {
      items.push(s.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) return undefined;
  items.push(s.slice(start));
  return items.map((item) => item.trim()); // normalize.ts keeps a space after a comma between digits

}

function outerBrackets(s: string): { open: string; close: string; inner: string } | undefined {
  const open = s.startsWith("\\{") ? "\\{" : OPENERS.has(s[0]) && s[0] !== "{" ? s[0] : undefined;
  const close = s.endsWith("\\}") ? "\\}" : CLOSERS.has(s[s.length - 1]) && s[s.length - 1] !== "}" ? s[s.length - 1] : undefined;
  if (!open || !close || s.length < open.length + close.length) return undefined;
  const inner = s.slice(open.length, s.length - close.length);
  // The outer pair must enclose everything: `(1,2)\cup(3,4)` is not one interval.
  const plain = inner.replace(/\\[{}]/g, "");
  let depth = 0;
  for (const c of plain) {
    if (OPENERS.has(c)) depth++;
    else if (CLOSERS.has(c) && --depth < 0) return undefined;
  }
  return depth === 0 ? { open, close, inner } : undefined;
}

/** The answer as a list when it is one (two or more items, or a set), else undefined. */
export function splitList(s: string): ListAnswer | undefined {
  const outer = outerBrackets(s);
  if (outer) {
    const items = topLevelSplit(outer.inner.replace(/\\\{/g, "{").replace(/\\\}/g, "}"));
    const isSet = outer.open === "\\{";
    if (items && (items.length > 1 || isSet)) return { open: outer.open, close: outer.close, items, unordered: isSet };
    return undefined;
  }
  const items = topLevelSplit(s);
  return items && items.length > 1 ? { open: "", close: "", items, unordered: true } : undefined;
}

/**
 * `a \pm b` is the set {a - b, a + b}: `\pm 2021` is {-2021, 2021}, `\frac{1\pm\sqrt5}{2}` is both
 * roots. Only one `\pm` (or `\mp`) per answer; with more, the combinations are ambiguous.
 */
export function expandPlusMinus(s: string): ListAnswer | undefined {
  const signs = s.match(/\\(?:pm|mp)(?![A-Za-z])/g);
  if (signs?.length !== 1) return undefined;
  const at = s.search(/\\(?:pm|mp)(?![A-Za-z])/);
  const before = s.slice(0, at);
  const after = s.slice(at + 3);
  if (after === "") return undefined;
  const items = [`${before}-${after}`, `${before}+${after}`].map((x) => x.replace(/^\+/, ""));
  return { open: "", close: "", items, unordered: true };
}

/** `(5)` → `5`: parentheses around a whole single value change nothing. */
export function unwrapParentheses(s: string): string {
  while (s.startsWith("(") && s.endsWith(")")) {
    const outer = outerBrackets(s);
    if (!outer || topLevelSplit(outer.inner)?.length !== 1) break;
    s = outer.inner;
  }
  return s;
}
