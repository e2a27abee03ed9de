// Scoring one rollout group: the task's verifier on every response. Pure; the service wraps it.
import type { RolloutGroup, VerifiedGroup } from "@lspo/proto";
import { verifyResponse, type ExtractMode, type RewardSchemeName } from "@lspo/tasks";

/** The run's `task.verifier` section: extraction mode and float tolerance. */
export interface ScoreOptions {
  extract: ExtractMode;
  floatTolerance: number;
}

export function scoreGroup(group: RolloutGroup, reward: RewardSchemeName, options: Partial<ScoreOptions> = {}): VerifiedGroup {
  const answer = group.prompt?.answer ?? "";
  const verdicts = group.responses.map((r) => verifyResponse(r.text, answer, { reward, ...options }));
  return { group, rewards: verdicts.map((v) => v.reward), correct: verdicts.map((v) => v.correct) };
}
