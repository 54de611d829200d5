package org.peft4j.adapters.ia3;

import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.LinearAdapter;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;

/**
 * PEFT's (IA)³ on one linear layer, vector {@code ia3_l.<name>}: a feed-forward layer scales its input,
 * {@code base(x ⊙ l)} with l [1, in]; any other layer scales its output (bias included), {@code base(x) ⊙ l}
 * with l [out, 1]. The change is multiplicative, so merging scales the weight's columns (feed-forward) or
 * its rows and the bias (otherwise) instead of adding a delta.
 */
public final class Ia3Linear implements LinearAdapter {
    public static final String CONTAINER = "ia3_l";

    private final String name;
    private final boolean feedforward;

    public Ia3Linear(String name, boolean feedforward) {
        this.name = name;
        this.feedforward = feedforward;
    }

    public boolean feedforward() { return feedforward; }

    private Tensor vector(AdaptedLinear layer) {
        Tensor l = layer.hasChild(CONTAINER) ? layer.child(CONTAINER).parameter(name) : null;
        if (l == null) throw new IllegalStateException("adapter '" + name + "' has no " + CONTAINER + " vector on this layer");
        return l;
    }

    @Override
    public Tensor transformInput(Tensor x, AdaptedLinear layer) {
        return feedforward ? Elementwise.mul(x, vector(layer)) : x;
    }

    @Override
    public Tensor transformOutput(Tensor x, Tensor out, AdaptedLinear layer) {
        return feedforward ? out : Elementwise.mul(out, vector(layer).reshape(layer.outFeatures()));
    }

    /** Not additive: see {@link #merge}. */
    @Override
    public Tensor deltaWeight(AdaptedLinear layer) { return null; }

    /** {@code W ⊙ l}: l [1, in] scales the columns of W [out, in], l [out, 1] its rows. */
    @Override
    public Tensor merge(Tensor weight, AdaptedLinear layer) {
        return Elementwise.mul(weight, vector(layer).detach());
    }

    /** The bias after merging: scaled by l for a layer that scales its output, unchanged for a feed-forward one. */
    @Override
    public Tensor mergeBias(Tensor bias, AdaptedLinear layer) {
        if (feedforward || bias == null) return bias;
        return Elementwise.mul(bias, vector(layer).detach().reshape(layer.outFeatures()));
    }
}
