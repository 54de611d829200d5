package org.peft4j.adapters;

import org.peft4j.tensor.Tensor;

/**
 * One adapter's change to one linear layer (LoRA, DoRA, IA3, LoHa, LoKr, ...). An
 * {@link AdaptedLinear} runs every active one: first {@link #transformInput} in order, then the base
 * projection, then {@link #transformOutput} in order.
 */
public interface LinearAdapter {
    /** Changes the base layer's input (IA3 on feed-forward layers); the identity by default. */
    default Tensor transformInput(Tensor x, AdaptedLinear layer) { return x; }

    /**
     * The layer's output given the original input {@code x} and the output so far (the base
     * projection, possibly changed by adapters before this one).
     */
    Tensor transformOutput(Tensor x, Tensor out, AdaptedLinear layer);

    /**
     * The change this adapter makes to the base weight, as [out, in], for merging; null if it cannot
     * be merged as an additive update.
     */
    Tensor deltaWeight(AdaptedLinear layer);

    /** Folds the adapter into the layer's bias (null if it has none); unchanged by default (IA3 scales it). */
    default Tensor mergeBias(Tensor bias, AdaptedLinear layer) { return bias; }

    /** Folds the adapter into {@code weight} ([out, in], a fresh copy) and {@code bias} (may be null); returns the new weight. */
    default Tensor merge(Tensor weight, AdaptedLinear layer) {
        Tensor delta = deltaWeight(layer);
        if (delta == null) throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot be merged");
        org.peft4j.ops.Elementwise.addInPlace(weight, delta);
        return weight;
    }
}
