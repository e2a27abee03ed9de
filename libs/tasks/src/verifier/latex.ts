// Small, linear-time LaTeX scanning helpers. Everything here is O(length) with no recursion, so the
// verifier stays fast on adversarial input (100 KB responses, thousands of unclosed braces).

/** Is the character at i escaped by an odd run of backslashes (`\{` is a literal brace, `\\{` is not)? */
export function isEscaped(s: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && s.charCodeAt(j) === 92 /* \ */; j--) n++;
  return n % 2 === 1;
}

/**
 * Index of the `}` closing the `{` at `open`, or -1 when it never closes. Escaped braces (`\{`, `\}`)
 * are literal characters, not grouping.
 */
export function closingBrace(s: string, open: number): number {
  let depth = 0;
  let escaped = false;
  for (let i = open; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (escaped) {
      escaped = false;
      continue;
    }
    if (c === 92 /* \ */) escaped = true;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

export interface Argument {
  /** The argument's text without its braces. */
  text: string;
  /** Index just past the argument. */
  end: number;
}

/**
 * Reads one TeX macro argument starting at `i` (after optional spaces): a `{...}` group, a control word
 * (`\pi`), or a single character (`\frac12` reads `1` then `2`). Undefined at end of input or on an
 * unclosed group.
 */
export function readArgument(s: string, i: number): Argument | undefined {
  while (i < s.length && s[i] === " ") i++;
  if (i >= s.length) return undefined;
  if (s[i] === "{") {
    const close = closingBrace(s, i);
    return close < 0 ? undefined : { text: s.slice(i + 1, close), end: close + 1 };
  }
  if (s[i] === "\\") {
    const m = /^\\(?:[A-Za-z]+|.)/s.exec(s.slice(i, i + 64));
    return m ? { text: m[0], end: i + m[0].length } : undefined;
  }
  if (s[i] === "}") return undefined;
  return { text: s[i], end: i + 1 };
}

/**
 * Replaces every `\name{arg}` (for the given command names) by `render(arg)`, scanning left to right
 * once. Commands whose argument is missing or unclosed are left as they are.
 */
export function mapCommand(s: string, names: readonly string[], render: (arg: string, name: string) => string): string {
  const re = new RegExp(`\\\\(${names.join("|")})(?![A-Za-z])`, "g");
  let out = "";
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    const arg = readArgument(s, m.index + m[0].length);
    if (!arg) continue;
    out += s.slice(last, m.index) + render(arg.text, m[1]);
    last = arg.end;
    re.lastIndex = arg.end;
  }
  return out + s.slice(last);
}
