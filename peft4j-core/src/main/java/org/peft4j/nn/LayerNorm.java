package org.peft4j.nn;

import org.peft4j.ops.Norms;
import org.peft4j.tensor.Tensor;

/** torch.nn.LayerNorm over the last dimension. */
public class LayerNorm extends Layer {
    private final double eps;

    public LayerNorm(Tensor weight, Tensor bias, double eps) {
        this.eps = eps;
        registerParameter("weight", weight);
        registerParameter("bias", bias);
    }

    public double eps() { return eps; }

    @Override
    public Tensor forward(Tensor x) { return Norms.layerNorm(x, parameter("weight"), parameter("bias"), eps); }

    /** LN(x + residual) in one fused pass. */
    public Tensor forward(Tensor x, Tensor residual) {
        return Norms.addLayerNorm(x, residual, parameter("weight"), parameter("bias"), eps);
    }
}
