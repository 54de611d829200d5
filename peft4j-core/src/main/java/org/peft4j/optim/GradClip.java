package org.peft4j.optim;

import org.peft4j.tensor.Tensor;

/** Gradient clipping. */
public final class GradClip {
    private GradClip() {}

    /**
     * Scales the gradients of {@code params} in place so that their global L2 norm is at most
     * {@code maxNorm}, as {@code torch.nn.utils.clip_grad_norm_}: the factor is
     * {@code min(1, maxNorm / (total + 1e-6))}. Parameters without a gradient are ignored. A non-finite
     * total propagates into the gradients as in torch; callers can test the returned value.
     *
     * @return the total norm of the gradients before clipping (0 when none has a gradient)
     */
    public static double clipGlobalNorm(Iterable<Tensor> params, double maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("maxNorm must be > 0, got " + maxNorm);
        double sumSquares = 0;
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g == null) continue;
            float[] f = g.heapFloats();
            if (f != null) {
                for (float v : f) sumSquares += (double) v * v;
            } else {
                for (long i = 0, n = g.numel(); i < n; i++) {
                    double v = g.getFlat(i);
                    sumSquares += v * v;
                }
            }
        }
        double total = Math.sqrt(sumSquares);
        double scale = Math.min(maxNorm / (total + 1e-6), 1.0);
        if (scale != 1.0) {
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (g == null) continue;
                float[] f = g.heapFloats();
                if (f != null) {
                    float s = (float) scale;
                    for (int i = 0; i < f.length; i++) f[i] *= s;
                } else {
                    for (long i = 0, n = g.numel(); i < n; i++) g.setFlat(i, g.getFlat(i) * scale);
                }
            }
        }
        return total;
    }
}
