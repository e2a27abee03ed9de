// Relations as answers: `x \le 5`, `y = 2x + 1`, `x \ne 3`. Split at their one top-level relation sign
// (normalize.ts has already turned `\geq`, `>=`, `≥` into `\ge`, and so on), and put in one orientation:
// `>` and `\ge` are flipped to `<` and `\le` by swapping sides, so `5 \ge x` is `x \le 5`.
// Chains (`1 < x < 3`) have two signs and are not split here.

export type RelationOp = "=" | "\\ne" | "<" | "\\le";

export interface Relation {
  lhs: string;
  op: RelationOp;
  rhs: string;
}

const SIGNS: readonly [token: string, op: RelationOp, flip: boolean][] = [
  ["\\le", "\\le", false],
  ["\\ge", "\\le", true],
  ["\\ne", "\\ne", false],
  ["<", "<", false],
  [">", "<", true],
  ["=", "=", false],
];

/** The one relation sign outside every bracket, or undefined (none, several, or an empty side). */
export function splitRelation(s: string): Relation | undefined {
  let depth = 0;
  let found: { at: number; token: string; op: RelationOp; flip: boolean } | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") depth--;
    if (depth !== 0) continue;
    for (const [token, op, flip] of SIGNS) {
      if (!s.startsWith(token, i) || (token[0] === "\\" && /[A-Za-z]/.test(s[i + token.length] ?? ""))) continue;
      if (found) return undefined; // a chain
      found = { at: i, token, op, flip };
      i += token.length - 1;
      break;
    }
  }
  if (!found) return undefined;
  const left = s.slice(0, found.at).trim();
  const right = s.slice(found.at + found.token.length).trim();
  if (!left || !right) return undefined;
  return found.flip ? { lhs: right, op: found.op, rhs: left } : { lhs: left, op: found.op, rhs: right };
}

/** `x = 5` or `x \in [0, 1]` with one variable on the left: the answer is the right side. */
export function valueOfAssignment(s: string): string | undefined {
  const m = /^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]\}?)?(?:=|\\in(?![A-Za-z]))(?!=)([\s\S]+)$/.exec(s);
  return m ? m[1].trim() : undefined;
}
