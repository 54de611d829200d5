package org.peft4j.models;

import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/** A decoder with a language-modelling head: GPT-2, Llama, Qwen2, Mistral. */
public interface CausalLm {
    ModelConfig config();

    /**
     * Logits [B, T, V] for {@code inputIds} [B, T] with attention mask [B, T]. Positions start after
     * {@code cache}'s length; the cache (or null) receives this pass's keys and values.
     */
    Tensor forward(Tensor inputIds, Tensor attentionMask, KvCache cache, RandomGenerator rng);

    /** Token embeddings for ids [B, T] → [B, T, H] (prompt tuning prepends its own before the blocks). */
    Tensor embed(Tensor inputIds);

    /** As {@link #forward} but from input embeddings [B, T, H]. */
    Tensor forwardEmbeddings(Tensor embeddings, Tensor attentionMask, KvCache cache, RandomGenerator rng);

    int numLayers();
}
