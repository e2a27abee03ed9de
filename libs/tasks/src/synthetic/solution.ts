// Worked solutions: one line per operation, written the way a person does it in their head, so a carry
// or a borrow adds a sub-result: 47+38 = 77+8 = 85 (add the tens, then the ones); 85-17 = 75-7 = 68;
// 47*2 = 80+14 = 94 (tens times k plus ones times k). Every line is a true chain of equalities.
// The last line is `#### <answer>`, the GSM8K marker the verifier reads.

import type { OpName } from "./levels.js";

export interface Step {
  op: OpName;
  /** The operand of gets/loses; undefined for doubles/triples. */
  operand?: number;
}

/** The multiplier of the scaling operations. */
export const FACTORS: Partial<Record<OpName, number>> = { doubles: 2, triples: 3 };

type Line = (a: number, b: number) => { text: string; value: number; carried: boolean };

const LINES: Record<"+" | "-" | "*", Line> = {
  "+": (a, b) => {
    const value = a + b;
    const carried = (a % 10) + (b % 10) >= 10;
    if (carried && b >= 10) return { text: `${a}+${b}=${a + b - (b % 10)}+${b % 10}=${value}`, value, carried };
    return { text: `${a}+${b}=${value}`, value, carried };
  },
  "-": (a, b) => {
    const value = a - b;
    const carried = a % 10 < b % 10; // a borrow
    if (carried && b >= 10) return { text: `${a}-${b}=${a - b + (b % 10)}-${b % 10}=${value}`, value, carried };
    return { text: `${a}-${b}=${value}`, value, carried };
  },
  "*": (a, k) => {
    const value = a * k;
    const ones = a % 10;
    const carried = ones * k >= 10;
    if (carried && a >= 10) return { text: `${a}*${k}=${(a - ones) * k}+${ones * k}=${value}`, value, carried };
    return { text: `${a}*${k}=${value}`, value, carried };
  },
};

export interface WorkedSolution {
  text: string;
  answer: number;
  /** Lines that needed a carry or borrow. */
  carries: number;
}

export function workedSolution(start: number, steps: readonly Step[]): WorkedSolution {
  let value = start;
  let carries = 0;
  const lines: string[] = [];
  for (const step of steps) {
    const factor = FACTORS[step.op];
    const line = factor !== undefined ? LINES["*"](value, factor) : LINES[step.op === "gets" ? "+" : "-"](value, step.operand!);
    lines.push(line.text);
    value = line.value;
    if (line.carried) carries++;
  }
  lines.push(`#### ${value}`);
  return { text: lines.join("\n"), answer: value, carries };
}
