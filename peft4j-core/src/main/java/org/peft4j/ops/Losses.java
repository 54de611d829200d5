package org.peft4j.ops;

import static org.peft4j.ops.Elementwise.F;
import static org.peft4j.ops.Elementwise.GRAIN;
import static org.peft4j.ops.Elementwise.L;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/** Regression losses (cross-entropy lives in {@code CrossEntropy}). */
public final class Losses {
    /** Elements per independently summed chunk, so the total does not depend on the thread count. */
    private static final int CHUNK = 1 << 16;

    private Losses() {}

    /**
     * Mean squared error, mean over all elements of (pred - target)², as a tensor of shape [].
     * pred and target must have the same shape (reshape a [batch, 1] regression output first).
     * Gradients flow to pred and, when it requires one, to target.
     */
    public static Tensor mse(Tensor pred, Tensor target) {
        int[] shape = pred.shape();
        if (!Arrays.equals(shape, target.shape())) {
            throw new IllegalArgumentException("mse: pred of shape " + Arrays.toString(shape) + " and target of shape "
                    + Arrays.toString(target.shape()) + " differ");
        }
        int n = Math.toIntExact(pred.numel());
        DType type = Elementwise.resultType(pred, target);
        Tensor out;
        if (type == DType.F32) {
            out = Tensor.of(new float[] {(float) (sumSquaredDiff(Elementwise.floatsOf(pred), Elementwise.floatsOf(target)) / n)});
        } else {
            double[] p = Elementwise.doublesOf(pred), t = Elementwise.doublesOf(target);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += (p[i] - t[i]) * (p[i] - t[i]);
            out = Tensor.of(new double[] {sum / n});
        }
        return Autograd.record(out, "mse", g -> {
            // d/dpred = 2(pred - target)·g/n; d/dtarget is its negation.
            double c = 2 * g.item() / n;
            return new Tensor[] {
                    pred.requiresGrad() ? scaledDiff(pred, target, c, type, shape) : null,
                    target.requiresGrad() ? scaledDiff(pred, target, -c, type, shape) : null};
        }, pred, target);
    }

    /** Σ(p - t)² in double: float vector lanes within chunks, double across chunks. */
    private static double sumSquaredDiff(float[] p, float[] t) {
        int n = p.length, chunks = (n + CHUNK - 1) / CHUNK;
        double[] partial = new double[chunks];
        Parallel.forRange(chunks, 1, (s, e) -> {
            for (int c = s; c < e; c++) {
                int from = c * CHUNK, to = Math.min(n, from + CHUNK);
                double total = 0;
                int i = from;
                while (i + L <= to) {
                    int blockEnd = Math.min(to, i + Reductions.LANE_BLOCK * L);
                    FloatVector acc = FloatVector.zero(F);
                    for (; i + L <= blockEnd; i += L) {
                        FloatVector d = FloatVector.fromArray(F, p, i).sub(FloatVector.fromArray(F, t, i));
                        acc = d.fma(d, acc);
                    }
                    total += Reductions.lanesInDouble(acc);
                }
                for (; i < to; i++) total += (double) (p[i] - t[i]) * (p[i] - t[i]);
                partial[c] = total;
            }
        });
        double sum = 0;
        for (double x : partial) sum += x;
        return sum;
    }

    /** c·(pred - target) as a fresh tensor. */
    private static Tensor scaledDiff(Tensor pred, Tensor target, double c, DType type, int[] shape) {
        if (type == DType.F32) {
            float[] p = Elementwise.floatsOf(pred), t = Elementwise.floatsOf(target);
            float[] o = new float[p.length];
            float fc = (float) c;
            Parallel.forRange(o.length, GRAIN, (s, e) -> {
                int i = s;
                for (int up = s + F.loopBound(e - s); i < up; i += L) {
                    FloatVector.fromArray(F, p, i).sub(FloatVector.fromArray(F, t, i)).mul(fc).intoArray(o, i);
                }
                for (; i < e; i++) o[i] = (p[i] - t[i]) * fc;
            });
            return Tensor.of(o, shape);
        }
        double[] p = Elementwise.doublesOf(pred), t = Elementwise.doublesOf(target);
        double[] o = new double[p.length];
        for (int i = 0; i < o.length; i++) o[i] = (p[i] - t[i]) * c;
        return Tensor.of(o, shape);
    }
}
