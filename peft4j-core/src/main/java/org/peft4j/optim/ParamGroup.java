package org.peft4j.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * Named parameters that share a base learning rate and weight decay (e.g. all weights at decay 0.01,
 * and biases and LayerNorm weights at decay 0, as Hugging Face's Trainer groups them). The names key
 * the optimizer state, so they must be unique across the groups of one optimizer.
 */
public final class ParamGroup {
    private final Map<String, Tensor> params;
    private final double lr;
    private final double weightDecay;

    /**
     * @param params      parameters by name, in the order the optimizer visits them; F32 or F64 leaves
     * @param lr          base learning rate (the schedule multiplies it)
     * @param weightDecay weight decay coefficient (decoupled for AdamW, added to the gradient for SGD)
     */
    public ParamGroup(Map<String, Tensor> params, double lr, double weightDecay) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        }
        Map<String, Tensor> copy = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            String name = e.getKey();
            Tensor t = e.getValue();
            if (name == null) throw new IllegalArgumentException("parameter with a null name");
            if (t == null) throw new IllegalArgumentException("parameter '" + name + "' is null");
            if (t.dtype() != DType.F32 && t.dtype() != DType.F64) {
                throw new IllegalArgumentException("parameter '" + name + "' is " + t.dtype()
                        + "; optimizers update F32 or F64 parameters only");
            }
            if (!t.isLeaf()) {
                throw new IllegalArgumentException("parameter '" + name + "' is computed by " + t.gradFn().op()
                        + ", not a leaf; optimize the tensor it was computed from");
            }
            copy.put(name, t);
        }
        this.params = Collections.unmodifiableMap(copy);
        this.lr = lr;
        this.weightDecay = weightDecay;
    }

    /** Parameters by name in visiting order (unmodifiable). */
    public Map<String, Tensor> params() { return params; }

    /** The parameter tensors in visiting order. */
    public List<Tensor> tensors() { return new ArrayList<>(params.values()); }

    /** Base learning rate; the optimizer applies {@code lr × schedule multiplier}. */
    public double lr() { return lr; }

    public double weightDecay() { return weightDecay; }

    @Override
    public String toString() {
        return "ParamGroup(" + params.size() + " params, lr=" + lr + ", weight_decay=" + weightDecay + ")";
    }
}
