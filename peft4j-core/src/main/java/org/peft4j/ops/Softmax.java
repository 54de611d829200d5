package org.peft4j.ops;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Softmax and log-softmax along one axis, optionally restricted by a keep-mask.
 *
 * <p>Both subtract the row maximum before exponentiating, so large logits do not overflow. The last
 * axis is the fast path (one row of contiguous memory per output row); another axis is moved to the
 * end with a transpose and moved back.
 *
 * <p>A mask is broadcastable to the input; a non-zero entry keeps the element, zero drops it. Dropped
 * elements get probability exactly 0 (log-probability -inf) and no gradient. A row in which every
 * element is dropped has no distribution at all: both ops define its output as all zeros with zero
 * gradient (PyTorch gives NaN), so padded query rows in attention stay finite.
 *
 * <p>Backward keeps only the output: softmax' gradient is {@code y * (g - sum(g * y))} and
 * log-softmax' is {@code g - exp(y) * sum(g)} over the kept elements.
 */
public final class Softmax {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Elements per parallel chunk; below this, handing rows to another thread costs more than it saves. */
    static final int GRAIN_ELEMENTS = 1 << 15;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    private Softmax() {}

    /** Softmax of {@code x} along {@code axis} (negative counts from the end). */
    public static Tensor softmax(Tensor x, int axis) { return apply(x, axis, null, false); }

    /**
     * Softmax of {@code x} along {@code axis} over the elements where {@code mask} (broadcastable to
     * x, any dtype, or null) is non-zero; dropped elements are 0, fully dropped rows all 0.
     */
    public static Tensor softmax(Tensor x, int axis, Tensor mask) { return apply(x, axis, mask, false); }

    /** Log-softmax of {@code x} along {@code axis}: {@code x - logsumexp(x)}. */
    public static Tensor logSoftmax(Tensor x, int axis) { return apply(x, axis, null, true); }

    /**
     * Masked log-softmax: dropped elements are -inf (the log of probability 0) and a fully dropped row
     * is all 0; neither passes any gradient.
     */
    public static Tensor logSoftmax(Tensor x, int axis, Tensor mask) { return apply(x, axis, mask, true); }

    private static Tensor apply(Tensor x, int axis, Tensor mask, boolean log) {
        if (!x.dtype().isFloating()) {
            throw new IllegalArgumentException((log ? "logSoftmax" : "softmax") + " needs a floating input, got "
                    + x.dtype());
        }
        int a = x.axis(axis);
        int last = x.dim() - 1;
        Tensor m = mask == null ? null : alignMask(mask, x.shape());
        if (a == last) return lastAxis(x, m, log);
        Tensor moved = lastAxis(x.transpose(a, last), m == null ? null : m.transpose(a, last), log);
        return moved.transpose(a, last).contiguous();
    }

    /** The mask, outside the graph, with leading size-1 dimensions added up to the input's rank. */
    private static Tensor alignMask(Tensor mask, int[] xShape) {
        int[] ms = mask.shape();
        boolean ok = ms.length <= xShape.length;
        int[] padded = new int[xShape.length];
        int lead = xShape.length - ms.length;
        for (int d = 0; ok && d < xShape.length; d++) {
            padded[d] = d < lead ? 1 : ms[d - lead];
            ok = padded[d] == 1 || padded[d] == xShape[d];
        }
        if (!ok) {
            throw new IllegalArgumentException("softmax mask of shape " + Arrays.toString(ms)
                    + " does not broadcast to input shape " + Arrays.toString(xShape));
        }
        return mask.detach().reshape(padded);
    }

    private static Tensor lastAxis(Tensor x, Tensor mask, boolean log) {
        int[] shape = x.shape();
        int n = shape[shape.length - 1];
        DType type = x.computeType();
        Tensor out = Workspace.zeros(type, shape);
        if (out.numel() == 0) return out;
        int rows = (int) (out.numel() / n);
        MaskRows masks = mask == null ? null : MaskRows.of(mask, shape);
        boolean[] dead = new boolean[rows];
        int grain = Math.max(1, GRAIN_ELEMENTS / n);
        if (type == DType.F32) {
            float[] xs = x.floats(), ys = out.heapFloats();
            Parallel.forRange(rows, grain, (s, e) -> {
                for (int r = s; r < e; r++) forwardRowF32(xs, ys, r * n, n, masks, r, log, dead);
            });
        } else {
            double[] xs = x.doubles(), ys = out.heapDoubles();
            for (int r = 0; r < rows; r++) forwardRowF64(xs, ys, r * n, n, masks, r, log, dead);
        }
        return Autograd.record(out, log ? "logSoftmax" : "softmax",
                g -> new Tensor[] {backward(out, g, n, rows, dead, log)}, x);
    }

    private static Tensor backward(Tensor out, Tensor g, int n, int rows, boolean[] dead, boolean log) {
        Tensor dx = Workspace.zeros(out.dtype(), out.shape());
        if (out.dtype() == DType.F32) {
            float[] y = out.heapFloats(), gs = g.floats(), d = dx.heapFloats();
            Parallel.forRange(rows, Math.max(1, GRAIN_ELEMENTS / n), (s, e) -> {
                for (int r = s; r < e; r++) {
                    if (dead[r]) continue;
                    if (log) logSoftmaxBackwardRowF32(y, gs, d, r * n, n);
                    else softmaxBackwardRowF32(y, gs, d, r * n, n);
                }
            });
        } else {
            double[] y = out.heapDoubles(), gs = g.doubles(), d = dx.heapDoubles();
            for (int r = 0; r < rows; r++) {
                if (dead[r]) continue;
                int off = r * n;
                if (log) {
                    double sum = 0;
                    for (int i = off; i < off + n; i++) if (y[i] != Double.NEGATIVE_INFINITY) sum += gs[i];
                    for (int i = off; i < off + n; i++) {
                        d[i] = y[i] == Double.NEGATIVE_INFINITY ? 0 : gs[i] - Math.exp(y[i]) * sum;
                    }
                } else {
                    double dot = 0;
                    for (int i = off; i < off + n; i++) dot += gs[i] * y[i];
                    for (int i = off; i < off + n; i++) d[i] = y[i] * (gs[i] - dot);
                }
            }
        }
        return dx;
    }

    // ---------------------------------------------------------------- masks

    /**
     * The mask as additive biases (0 keeps, -inf drops) in the mask's own compact layout, with where
     * each input row's bias row starts and the step along it (0 when the mask is broadcast along the
     * softmax axis, so one bias covers the whole row).
     */
    private record MaskRows(float[] bias, int[] rowStart, int step) {
        static MaskRows of(Tensor mask, int[] xShape) {
            int[] ms = mask.shape();
            int rank = ms.length;
            float[] bias = new float[Math.toIntExact(mask.numel())];
            for (int i = 0; i < bias.length; i++) bias[i] = mask.getFlat(i) != 0 ? 0f : NEG_INF;
            long[] compact = Tensor.contiguousStrides(ms);
            int[] step = new int[rank];
            for (int d = 0; d < rank; d++) step[d] = ms[d] == 1 ? 0 : (int) compact[d];
            int rows = (int) (Tensor.numel(xShape) / xShape[rank - 1]);
            int[] rowStart = new int[rows];
            int[] idx = new int[rank];
            int off = 0;
            for (int r = 0; r < rows; r++) {
                rowStart[r] = off;
                for (int d = rank - 2; d >= 0; d--) {
                    off += step[d];
                    if (++idx[d] < xShape[d]) break;
                    off -= step[d] * xShape[d];
                    idx[d] = 0;
                }
            }
            return new MaskRows(bias, rowStart, step[rank - 1]);
        }
    }

    // ---------------------------------------------------------------- F32 row kernels

    private static void forwardRowF32(float[] x, float[] y, int off, int n, MaskRows masks, int row, boolean log,
            boolean[] dead) {
        float[] src = x;
        if (masks != null) {
            int b = masks.rowStart[row];
            if (masks.step == 0 && masks.bias[b] != 0) {
                dead[row] = true;
                return;
            }
            if (masks.step != 0) {
                addRowF32(x, masks.bias, b, y, off, n);
                src = y;
            }
        }
        float max = maxF32(src, off, n);
        if (max == NEG_INF) {
            Arrays.fill(y, off, off + n, 0f);
            dead[row] = true;
            return;
        }
        if (log) {
            // (x - max) - log(sum) rather than x - logsumexp: the latter loses the low bits of large logits.
            shiftF32(src, y, off, n, max, (float) Math.log(sumExpF32(src, off, n, max)));
        } else {
            float sum = expStoreF32(src, y, off, n, max);
            scaleF32(y, off, n, 1f / sum);
        }
    }

    /** y[off+i] = x[off+i] + bias[b+i]. */
    private static void addRowF32(float[] x, float[] bias, int b, float[] y, int off, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, off + i).add(FloatVector.fromArray(F, bias, b + i)).intoArray(y, off + i);
        }
        for (; i < n; i++) y[off + i] = x[off + i] + bias[b + i];
    }

    /** Largest of x[off .. off+n). */
    static float maxF32(float[] x, int off, int n) {
        FloatVector acc = FloatVector.broadcast(F, NEG_INF);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) acc = acc.max(FloatVector.fromArray(F, x, off + i));
        float max = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        return max;
    }

    /** Sum of exp(x[i] - max) over x[off .. off+n). */
    static float sumExpF32(float[] x, int off, int n, float max) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = acc.add(FloatVector.fromArray(F, x, off + i).sub(max).lanewise(VectorOperators.EXP));
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += (float) Math.exp(x[off + i] - max);
        return sum;
    }

    /** y = exp(x - max) over one row (x may be y); returns the row's sum. */
    private static float expStoreF32(float[] x, float[] y, int off, int n, float max) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector e = FloatVector.fromArray(F, x, off + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(y, off + i);
            acc = acc.add(e);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            y[off + i] = (float) Math.exp(x[off + i] - max);
            sum += y[off + i];
        }
        return sum;
    }

    /** y = (x - max) - logSum over one row (x may be y). */
    private static void shiftF32(float[] x, float[] y, int off, int n, float max, float logSum) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, x, off + i).sub(max).sub(logSum).intoArray(y, off + i);
        }
        for (; i < n; i++) y[off + i] = (x[off + i] - max) - logSum;
    }

    private static void scaleF32(float[] y, int off, int n, float factor) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, y, off + i).mul(factor).intoArray(y, off + i);
        }
        for (; i < n; i++) y[off + i] *= factor;
    }

    /** d = y * (g - sum(g * y)) over one row. */
    private static void softmaxBackwardRowF32(float[] y, float[] g, float[] d, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            acc = FloatVector.fromArray(F, g, off + i).fma(FloatVector.fromArray(F, y, off + i), acc);
        }
        float dot = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) dot += g[off + i] * y[off + i];
        for (i = 0; i < bound; i += F.length()) {
            FloatVector yv = FloatVector.fromArray(F, y, off + i);
            yv.mul(FloatVector.fromArray(F, g, off + i).sub(dot)).intoArray(d, off + i);
        }
        for (; i < n; i++) d[off + i] = y[off + i] * (g[off + i] - dot);
    }

    /** d = g - exp(y) * sum(g) over the kept elements (y > -inf) of one row, 0 elsewhere. */
    private static void logSoftmaxBackwardRowF32(float[] y, float[] g, float[] d, int off, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, bound = F.loopBound(n);
        for (; i < bound; i += F.length()) {
            VectorMask<Float> keep = FloatVector.fromArray(F, y, off + i).compare(VectorOperators.NE, NEG_INF);
            acc = acc.add(FloatVector.fromArray(F, g, off + i), keep);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) if (y[off + i] != NEG_INF) sum += g[off + i];
        FloatVector zero = FloatVector.zero(F);
        for (i = 0; i < bound; i += F.length()) {
            FloatVector yv = FloatVector.fromArray(F, y, off + i);
            VectorMask<Float> keep = yv.compare(VectorOperators.NE, NEG_INF);
            FloatVector dv = FloatVector.fromArray(F, g, off + i).sub(yv.lanewise(VectorOperators.EXP).mul(sum));
            zero.blend(dv, keep).intoArray(d, off + i);
        }
        for (; i < n; i++) d[off + i] = y[off + i] == NEG_INF ? 0f : g[off + i] - (float) Math.exp(y[off + i]) * sum;
    }

    // ---------------------------------------------------------------- F64 row kernel

    private static void forwardRowF64(double[] x, double[] y, int off, int n, MaskRows masks, int row, boolean log,
            boolean[] dead) {
        float[] bias = masks == null ? null : masks.bias;
        int b = masks == null ? 0 : masks.rowStart[row], step = masks == null ? 0 : masks.step;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i] + (bias == null ? 0 : bias[b + i * step]));
        if (max == Double.NEGATIVE_INFINITY) {
            dead[row] = true;
            return;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp(x[off + i] + (bias == null ? 0 : bias[b + i * step]) - max);
            y[off + i] = e;
            sum += e;
        }
        double logSum = Math.log(sum);
        for (int i = 0; i < n; i++) {
            y[off + i] = log ? x[off + i] + (bias == null ? 0 : bias[b + i * step]) - max - logSum : y[off + i] / sum;
        }
    }
}
