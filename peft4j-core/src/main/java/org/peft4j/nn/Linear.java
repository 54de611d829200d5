package org.peft4j.nn;

import java.util.Arrays;
import org.peft4j.tensor.Tensor;

/**
 * {@code y = x·Wᵀ + b} with W stored [out, in] as in torch.nn.Linear, or [in, out] when
 * {@code fanInFanOut} (GPT-2's Conv1D, see {@link Conv1D}).
 */
public class Linear extends Layer {
    private final boolean fanInFanOut;

    public Linear(Tensor weight, Tensor biasOrNull) { this(weight, biasOrNull, false); }

    protected Linear(Tensor weight, Tensor biasOrNull, boolean fanInFanOut) {
        if (weight.dim() != 2) {
            throw new IllegalArgumentException("linear weight must be 2-D, got " + Arrays.toString(weight.shape()));
        }
        this.fanInFanOut = fanInFanOut;
        registerParameter("weight", weight);
        registerParameter("bias", biasOrNull);
    }

    public boolean fanInFanOut() { return fanInFanOut; }

    public int inFeatures() { return weight().size(fanInFanOut ? 0 : 1); }

    public int outFeatures() { return weight().size(fanInFanOut ? 1 : 0); }

    public Tensor weight() { return parameter("weight"); }

    public Tensor bias() { return parameter("bias"); }

    /** The weight as [out, in] whatever the storage layout (a view for Conv1D). */
    public Tensor weightOutIn() { return fanInFanOut ? weight().transpose(0, 1) : weight(); }

    @Override
    public Tensor forward(Tensor x) { return org.peft4j.ops.Linear.linear(x, weightOutIn(), bias()); }
}
