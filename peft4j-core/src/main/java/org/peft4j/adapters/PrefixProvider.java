package org.peft4j.adapters;

import org.peft4j.tensor.Tensor;

/** An adapter that contributes extra keys and values to every layer's self-attention (prefix tuning). */
public interface PrefixProvider {
    /** Per layer, keys then values: {@code [2][layers]} tensors of shape [batch, kvHeads, P, headDim]. */
    Tensor[][] prefix(int batch);

    /** PEFT numbers real tokens after the prefix; AdapterHub does not. */
    boolean shiftsPositions();
}
