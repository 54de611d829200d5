package org.peft4j.nn;

import org.peft4j.tensor.Tensor;

/** A module with one input and one output: projections, norms, activations, adapters wrapping them. */
public abstract class Layer extends Module {
    public abstract Tensor forward(Tensor x);
}
