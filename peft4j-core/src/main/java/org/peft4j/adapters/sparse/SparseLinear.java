package org.peft4j.adapters.sparse;

import java.util.Arrays;
import org.peft4j.nn.Layer;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A linear projection [in] → [out] whose weight is sparse with a fixed pattern: only the kept weights
 * exist, as the parameter {@code weight_values} [nnz] (row-major order of their positions), next to a
 * dense {@code bias} [out]. Pruned weights are therefore exactly zero for good and receive no gradient,
 * and the optimiser's state covers only the kept ones. With {@code topK > 0} each input row keeps only
 * its k largest entries before the projection (activation sparsity), and only those columns are read.
 */
public final class SparseLinear extends Layer {
    /** The parameter holding the kept weights. */
    public static final String VALUES = "weight_values";

    private SparsePattern pattern;
    private final int topK;

    /** A layer with the given pattern, kept weights [nnz], bias [out] or null, and top-k (0: none). */
    public SparseLinear(SparsePattern pattern, Tensor values, Tensor bias, int topK) {
        if (topK < 0 || topK > pattern.cols()) {
            throw new IllegalArgumentException("top_k " + topK + " must be in [0, " + pattern.cols() + "] for an input of " + pattern.cols());
        }
        pattern.checkValues(values.numel());
        if (bias != null && (bias.dim() != 1 || bias.size(0) != pattern.rows())) {
            throw new IllegalArgumentException("bias " + Arrays.toString(bias.shape()) + " must be [" + pattern.rows() + "]");
        }
        this.pattern = pattern;
        this.topK = topK;
        registerParameter(VALUES, values);
        registerParameter("bias", bias);
    }

    /** A layer keeping every weight of the dense [out, in] {@code weight} (a copy), pruned later by {@link #setPattern}. */
    public static SparseLinear ofDense(Tensor weight, Tensor bias, int topK) {
        if (weight.dim() != 2) throw new IllegalArgumentException("weight must be [out, in], got " + Arrays.toString(weight.shape()));
        SparsePattern full = SparsePattern.full(weight.size(0), weight.size(1));
        DType type = weight.computeType();
        Tensor values = weight.detachedCopy(type).reshape(full.nnz());
        return new SparseLinear(full, values.requiresGrad(weight.requiresGrad()), bias, topK);
    }

    public SparsePattern pattern() { return pattern; }

    public int topK() { return topK; }

    public int inFeatures() { return pattern.cols(); }

    public int outFeatures() { return pattern.rows(); }

    /** The kept weights [nnz]. */
    public Tensor values() { return parameter(VALUES); }

    public Tensor bias() { return parameter("bias"); }

    /** The weight as a dense [out, in] tensor (pruned positions zero), detached from the graph. */
    public Tensor denseWeight() {
        Tensor v = values();
        double[] dense = pattern.scatter(v.doubles());
        Tensor out = Tensor.zeros(v.computeType(), pattern.rows(), pattern.cols());
        for (int i = 0; i < dense.length; i++) out.setFlat(i, dense[i]);
        return out;
    }

    /**
     * Switches to {@code next}: the kept weights become the current weight's values at the new positions
     * (zero where the current pattern had none). The values parameter is replaced by a new tensor of the
     * new size with the same dtype and trainable flag, so an optimiser must be created after this call.
     */
    public void setPattern(SparsePattern next) {
        if (next.rows() != pattern.rows() || next.cols() != pattern.cols()) {
            throw new IllegalArgumentException("pattern " + next + " does not fit a " + pattern.rows() + "x" + pattern.cols() + " weight");
        }
        Tensor old = values();
        double[] kept = next.gather(pattern.scatter(old.doubles()));
        Tensor values = Tensor.zeros(old.computeType(), kept.length);
        for (int j = 0; j < kept.length; j++) values.setFlat(j, kept[j]);
        values.requiresGrad(old.requiresGrad());
        pattern = next;
        registerParameter(VALUES, values);
    }

    @Override
    public Tensor forward(Tensor x) {
        return topK > 0 ? SparseMatmul.topKLinear(x, topK, pattern, values(), bias()) : SparseMatmul.linear(x, pattern, values(), bias());
    }
}
