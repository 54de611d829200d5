package org.peft4j.adapters.prompt;

import org.peft4j.adapters.PromptProvider;
import org.peft4j.nn.Embedding;
import org.peft4j.nn.Module;
import org.peft4j.tensor.Tensor;

/** PEFT's prompt embedding ({@code prompt_encoder.<name>.embedding.weight} [n, hidden]): the virtual tokens' input embeddings. */
public final class PromptEmbedding extends Module implements PromptProvider {
    public PromptEmbedding(Tensor embedding) {
        registerModule("embedding", new Embedding(embedding));
    }

    /** The tree path of adapter {@code name}'s prompt below {@link org.peft4j.adapters.PeftModel#extras()}. */
    public static String path(String name) { return "prompt_encoder." + name; }

    public Tensor weight() { return this.<Embedding>child("embedding").weight(); }

    @Override
    public Tensor prompt(int batch) {
        Tensor w = weight();
        return w.unsqueeze(0).expand(batch, w.size(0), w.size(1));
    }
}
