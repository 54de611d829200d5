package org.peft4j.adapters;

import java.util.random.RandomGenerator;
import org.peft4j.tensor.Tensor;

/** An adapter that contributes extra keys and values to every layer's self-attention (prefix tuning). */
public interface PrefixProvider {
    /**
     * Per layer, keys then values: {@code [2][layers]} tensors of shape [batch, kvHeads, P, headDim].
     * {@code rng} draws dropout while training (the forward's generator); null: the provider's own.
     */
    Tensor[][] prefix(int batch, RandomGenerator rng);

    /** {@link #prefix(int, RandomGenerator)} with the provider's own generator. */
    default Tensor[][] prefix(int batch) { return prefix(batch, null); }

    /** PEFT numbers real tokens after the prefix; AdapterHub does not. */
    boolean shiftsPositions();
}
