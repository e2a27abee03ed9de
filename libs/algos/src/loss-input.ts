// The ONE input every policy loss takes (reference and graph forms alike), so the learner never branches
// on an algorithm's name. Ragged: N responses, response i has T_i tokens.

export interface LossInput {
  /** [N][T_i] current policy log-prob of each response token (the variable we differentiate). */
  logp: number[][];
  /** [N][T_i] log-prob under the policy that generated the response. */
  logpOld: number[][];
  /** [N][T_i] log-prob under the frozen reference policy; null when KL is off. */
  logpRef: number[][] | null;
  /**
   * [N][T_i] entropy (nats) of the current policy's next-token distribution at each response position,
   * H_t = -sum_v p(v|ctx_t) log p(v|ctx_t), computed by the model from its logits; null when the
   * entropy bonus is off. It depends on all logits, not on logp_t alone, so its gradient flows into
   * the model through its own input (`gradEntropy`), not through d loss / d logp.
   */
  entropy: number[][] | null;
  /** [N][T_i] 1 = token in the loss, 0 = masked (overlong filtering). */
  mask: number[][];
  /** [N] advantage A_i of each response, broadcast over its tokens. */
  advantages: number[];
}
