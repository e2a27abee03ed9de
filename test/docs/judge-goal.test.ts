// docs - how a goal is judged (bench/lib/stats.ts judgeGoal): on the wall-clock median with its spread.
import { describe, expect, it } from "vitest";
import { judgeGoal, summarize } from "../../bench/lib/stats.js";

describe("docs - goal verdicts", () => {
  it("met only when every run reaches the goal; not met when the median misses it", () => {
    expect(judgeGoal(summarize([0.95, 1.0, 1.2]), 0.9)).toBe("met");
    expect(judgeGoal(summarize([0.5, 0.85, 1.9]), 0.9)).toBe("not met");
  });

  it("not settled when the median reaches the goal but some runs do not, with how many", () => {
    expect(judgeGoal(summarize([0.69, 0.8, 0.95, 1.1, 1.9]), 0.9)).toBe("not settled (2 of 5 runs miss it)");
    expect(judgeGoal({ median: 1, min: 0.8, max: 1.2 }, 0.9)).toBe("not settled (some runs miss it)");
  });

  it("a ceiling is judged the other way round", () => {
    expect(judgeGoal(summarize([8, 9, 10]), 15, false)).toBe("met");
    expect(judgeGoal(summarize([12, 14, 16]), 15, false)).toBe("not settled (1 of 3 runs miss it)");
    expect(judgeGoal(summarize([14, 16, 17]), 15, false)).toBe("not met");
  });
});
