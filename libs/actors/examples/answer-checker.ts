// A toy verifier in one file: a response is correct when it contains the prompt's answer.
import { defineActor } from "@lspo/actors";
import { ComponentState, VerifierServiceService } from "@lspo/proto";

export const answerChecker = defineActor({
  kind: "answer-checker",
  service: VerifierServiceService,
  resources: { cpus: 0.5 },
  handlers: {
    async verify({ group }) {
      const answer = group?.prompt?.answer ?? "";
      const correct = (group?.responses ?? []).map((r) => answer !== "" && r.text.includes(answer));
      return { group: { group, correct, rewards: correct.map((c) => (c ? 1 : 0)) } };
    },
    async status() {
      return { status: { name: "answer-checker", kind: "answer-checker", node: "", pid: process.pid, state: ComponentState.COMPONENT_STATE_RUNNING } };
    },
  },
});
