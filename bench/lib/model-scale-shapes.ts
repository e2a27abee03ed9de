// The Hugging Face config.json of each model bench/model-scale.ts makes: Qwen2.5-1.5B's shape for the load and
// publish part, Qwen2.5-0.5B's for the end-to-end training run, and for `--size tiny` small stand-ins with
// the same vocabulary (the LM head is what makes a Qwen-sized vocabulary heavy) so the smoke form runs
// the same steps in seconds.
export type Size = "real" | "tiny";

const SHAPES = {
  "1.5b": { hidden_size: 1536, intermediate_size: 8960, num_hidden_layers: 28, num_attention_heads: 12, num_key_value_heads: 2, vocab_size: 151936 },
  "0.5b": { hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, vocab_size: 151936 },
  tiny: { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 151936 },
} as const;

/** A Qwen2 config.json (tied embeddings, rope_theta 1e6) of the named shape. */
function qwen2(shape: keyof typeof SHAPES): Record<string, unknown> {
  return {
    architectures: ["Qwen2ForCausalLM"], model_type: "qwen2", ...SHAPES[shape],
    max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000.0, tie_word_embeddings: true,
    hidden_act: "silu", bos_token_id: 151643, eos_token_id: 151643, torch_dtype: "bfloat16",
  };
}

/** The load part's model and the training part's, for a size. */
export function shapesFor(size: Size): { load: Record<string, unknown>; train: Record<string, unknown> } {
  return size === "real" ? { load: qwen2("1.5b"), train: qwen2("0.5b") } : { load: qwen2("tiny"), train: qwen2("tiny") };
}
