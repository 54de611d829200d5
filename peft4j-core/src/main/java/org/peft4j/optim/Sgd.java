package org.peft4j.optim;

import java.util.List;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Stochastic gradient descent with optional momentum, as {@code torch.optim.SGD}: weight decay is
 * coupled (added to the gradient), and with momentum μ and dampening τ
 * <pre>
 *   d ← g + weight_decay · p
 *   b ← d on the first update, else μ · b + (1 − τ) · d
 *   d ← d + μ · b  (nesterov)   or   d ← b
 *   p ← p − lr · d
 * </pre>
 * State slot: {@code momentum_buffer} (b), kept only when μ ≠ 0.
 */
public final class Sgd extends AbstractOptimizer {
    private final double momentum, dampening;
    private final boolean nesterov;

    /** Plain SGD without momentum. */
    public Sgd(List<ParamGroup> groups) { this(groups, 0, 0, false); }

    public Sgd(List<ParamGroup> groups, double momentum, double dampening, boolean nesterov) {
        super(groups, momentum != 0 ? List.of("momentum_buffer") : List.of());
        if (!(momentum >= 0)) throw new IllegalArgumentException("momentum must be >= 0, got " + momentum);
        if (!(dampening >= 0)) throw new IllegalArgumentException("dampening must be >= 0, got " + dampening);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("nesterov momentum requires momentum > 0 and dampening 0, got momentum "
                    + momentum + " and dampening " + dampening);
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
    }

    public double momentum() { return momentum; }

    public double dampening() { return dampening; }

    public boolean nesterov() { return nesterov; }

    @Override
    void update(Tensor param, Tensor grad, ParamState state, double lr, double weightDecay) {
        boolean first = state.steps == 1;
        Tensor buffer = momentum != 0 ? state.slots[0] : null;
        if (floatPath(param, grad)) {
            float[] p = param.heapFloats(), g = grad.heapFloats(), b = buffer == null ? null : buffer.heapFloats();
            float wd = (float) weightDecay, mu = (float) momentum, keep = (float) (1 - dampening), step = (float) -lr;
            Parallel.forRange(p.length, GRAIN, (start, end) -> {
                for (int i = start; i < end; i++) {
                    float d = wd != 0 ? g[i] + wd * p[i] : g[i];
                    if (b != null) {
                        float bi = first ? d : b[i] * mu + keep * d;
                        b[i] = bi;
                        d = nesterov ? d + mu * bi : bi;
                    }
                    p[i] = p[i] + step * d;
                }
            });
            return;
        }
        for (long i = 0, n = param.numel(); i < n; i++) {
            double pi = param.getFlat(i);
            double d = grad.getFlat(i) + weightDecay * pi;
            if (buffer != null) {
                double bi = first ? d : buffer.getStorage(i) * momentum + (1 - dampening) * d;
                buffer.setStorage(i, bi);
                d = nesterov ? d + momentum * bi : bi;
            }
            param.setFlat(i, pi - lr * d);
        }
    }
}
