package org.peft4j.nn;

import org.peft4j.ops.Norms;
import org.peft4j.tensor.Tensor;

/** Llama's RMSNorm: x / sqrt(mean(x²) + eps) · weight. */
public class RmsNorm extends Layer {
    private final double eps;

    public RmsNorm(Tensor weight, double eps) {
        this.eps = eps;
        registerParameter("weight", weight);
    }

    @Override
    public Tensor forward(Tensor x) { return Norms.rmsNorm(x, parameter("weight"), eps); }
}
