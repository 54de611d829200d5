package org.peft4j.optim;

import java.util.List;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Adam with decoupled weight decay, as {@code torch.optim.AdamW} (without amsgrad). Per parameter,
 * at its t-th update with gradient g:
 * <pre>
 *   p   ← p · (1 − lr · weight_decay)
 *   m   ← β1 · m + (1 − β1) · g
 *   v   ← β2 · v + (1 − β2) · g²
 *   p   ← p − lr / (1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
 * </pre>
 * State slots: {@code exp_avg} (m) and {@code exp_avg_sq} (v). F32 parameters are updated in float
 * with the operations in torch's order; F64 parameters in double.
 */
public final class AdamW extends AbstractOptimizer {
    private final double beta1, beta2, eps;

    /** torch's defaults: β = (0.9, 0.999), ε = 1e-8 (lr and weight decay come from the groups). */
    public AdamW(List<ParamGroup> groups) { this(groups, 0.9, 0.999, 1e-8); }

    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps) {
        super(groups, List.of("exp_avg", "exp_avg_sq"));
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
        if (!(eps >= 0)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    public double beta1() { return beta1; }

    public double beta2() { return beta2; }

    public double eps() { return eps; }

    @Override
    void update(Tensor param, Tensor grad, ParamState state, double lr, double weightDecay) {
        double decay = 1 - lr * weightDecay;
        double stepSize = lr / (1 - Math.pow(beta1, state.steps));
        double bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, state.steps));
        Tensor expAvg = state.slots[0], expAvgSq = state.slots[1];
        if (floatPath(param, grad)) {
            float[] p = param.heapFloats(), g = grad.heapFloats(), m = expAvg.heapFloats(), v = expAvgSq.heapFloats();
            float fDecay = (float) decay, w = (float) (1 - beta1), b2 = (float) beta2, c2 = (float) (1 - beta2);
            float fBias2Sqrt = (float) bias2Sqrt, fEps = (float) eps, fStep = (float) -stepSize;
            Parallel.forRange(p.length, GRAIN, (start, end) -> {
                for (int i = start; i < end; i++) {
                    float gi = g[i];
                    float pi = p[i] * fDecay;
                    float mi = lerp(m[i], gi, w);
                    float vi = v[i] * b2 + c2 * gi * gi;
                    m[i] = mi;
                    v[i] = vi;
                    p[i] = pi + fStep * mi / ((float) Math.sqrt(vi) / fBias2Sqrt + fEps);
                }
            });
            return;
        }
        for (long i = 0, n = param.numel(); i < n; i++) {
            double gi = grad.getFlat(i);
            double mi = expAvg.getStorage(i) + (1 - beta1) * (gi - expAvg.getStorage(i));
            double vi = expAvgSq.getStorage(i) * beta2 + (1 - beta2) * gi * gi;
            expAvg.setStorage(i, mi);
            expAvgSq.setStorage(i, vi);
            param.setFlat(i, param.getFlat(i) * decay - stepSize * mi / (Math.sqrt(vi) / bias2Sqrt + eps));
        }
    }

    /** start + w·(end − start), computed as torch's lerp does for each half of w so F32 results agree. */
    private static float lerp(float start, float end, float w) {
        return w < 0.5f ? start + w * (end - start) : end - (end - start) * (1 - w);
    }
}
