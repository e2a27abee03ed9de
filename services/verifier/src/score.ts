// Scoring one rollout group: the task's verifier on every response. Pure; the service wraps it.
import type { RolloutGroup, VerifiedGroup } from "@lspo/proto";
import { verifyResponse, type RewardSchemeName } from "@lspo/tasks";

export function scoreGroup(group: RolloutGroup, reward: RewardSchemeName): VerifiedGroup {
  const answer = group.prompt?.answer ?? "";
  const verdicts = group.responses.map((r) => verifyResponse(r.text, answer, { reward }));
  return { group, rewards: verdicts.map((v) => v.reward), correct: verdicts.map((v) => v.correct) };
}
