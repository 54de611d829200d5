package org.peft4j.adapters;

import org.peft4j.tensor.Tensor;

/** An adapter that prepends virtual token embeddings to the input (prompt tuning). */
public interface PromptProvider {
    /** The virtual tokens' embeddings [batch, n, hidden]. */
    Tensor prompt(int batch);
}
