package org.peft4j.ops;

import static org.peft4j.ops.Elementwise.F;
import static org.peft4j.ops.Elementwise.GRAIN;
import static org.peft4j.ops.Elementwise.L;

import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Sums and means over all elements or over chosen axes.
 *
 * <p>Accuracy of F32 sums: values are added in float inside short blocks (each vector lane adds at
 * most {@value #LANE_BLOCK}/2 values; column sums add at most {@value #ROW_BLOCK} rows) and the block
 * results are added in double. This keeps the error near that of a double sum while the hot loops
 * stay in float vectors. Totals over many elements are split into fixed-size chunks whose partial
 * sums are added in chunk order, so results do not depend on the number of threads.
 *
 * <p>Reducing several axes runs one pass per group of adjacent reduced axes, each a
 * {@code [outer, reduced, inner]} kernel: contiguous segment sums when {@code inner == 1}, otherwise
 * column sums (the bias-gradient case {@code [rows, n] -> [n]}).
 */
public final class Reductions {
    /** Vector iterations (over two accumulators) before a segment's float lane sums are moved into double. */
    static final int LANE_BLOCK = 32;
    /** Rows added in float before a column sum's partials are moved into double. */
    static final int ROW_BLOCK = 16;
    /** Elements per independently summed chunk of a long segment. */
    private static final int CHUNK = 1 << 16;
    /** Double vectors of the same bit size as F, so a float vector converts into exactly two. */
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());

    private Reductions() {}

    /** The sum of all elements, as a tensor of shape []. */
    public static Tensor sum(Tensor x) {
        return reduce(x, allAxes(x), false, false, "sum");
    }

    /** Sums over one axis (negative counts from the end), keeping it as size 1 when {@code keepDim}. */
    public static Tensor sum(Tensor x, int axis, boolean keepDim) {
        return reduce(x, axes(x, new int[] {axis}), keepDim, false, "sum");
    }

    /** Sums over several distinct axes. */
    public static Tensor sum(Tensor x, int[] axes, boolean keepDim) {
        return reduce(x, axes(x, axes), keepDim, false, "sum");
    }

    /** The mean of all elements, as a tensor of shape []. */
    public static Tensor mean(Tensor x) {
        return reduce(x, allAxes(x), false, true, "mean");
    }

    /** The mean over one axis. */
    public static Tensor mean(Tensor x, int axis, boolean keepDim) {
        return reduce(x, axes(x, new int[] {axis}), keepDim, true, "mean");
    }

    /** The mean over several distinct axes. */
    public static Tensor mean(Tensor x, int[] axes, boolean keepDim) {
        return reduce(x, axes(x, axes), keepDim, true, "mean");
    }

    private static boolean[] allAxes(Tensor x) {
        boolean[] r = new boolean[x.dim()];
        Arrays.fill(r, true);
        return r;
    }

    private static boolean[] axes(Tensor x, int[] axes) {
        boolean[] r = new boolean[x.dim()];
        for (int a : axes) {
            int k = x.axis(a);
            if (r[k]) throw new IllegalArgumentException("axis " + a + " repeated in " + Arrays.toString(axes));
            r[k] = true;
        }
        return r;
    }

    private static Tensor reduce(Tensor x, boolean[] reduced, boolean keepDim, boolean mean, String op) {
        int[] xs = x.shape();
        int[] keepShape = xs.clone();
        long count = 1;
        int kept = 0;
        for (int d = 0; d < xs.length; d++) {
            if (reduced[d]) {
                keepShape[d] = 1;
                count *= xs[d];
            } else {
                kept++;
            }
        }
        int[] outShape = keepShape;
        if (!keepDim) {
            outShape = new int[kept];
            for (int d = 0, j = 0; d < xs.length; d++) if (!reduced[d]) outShape[j++] = xs[d];
        }
        Tensor out = sumDims(x, reduced, outShape);
        double scale = mean ? 1.0 / count : 1.0;
        if (mean) Elementwise.scaleInPlace(out, scale);
        return Autograd.record(out, op, g -> {
            Tensor gx = Elementwise.broadcastTo(g.reshape(keepShape), xs);
            if (mean) Elementwise.scaleInPlace(gx, scale);
            return new Tensor[] {gx};
        }, x);
    }

    // ---------------------------------------------------------------- engine (shared with sumToShape)

    /**
     * Sums x over the dimensions flagged in {@code reduce} into a fresh tensor of {@code resultShape}
     * (any shape with the kept dimensions in order); records nothing.
     */
    static Tensor sumDims(Tensor x, boolean[] reduce, int[] resultShape) {
        int[] shape = x.shape();
        // Group adjacent dimensions that are all reduced or all kept; size-1 dimensions do not matter.
        int[] sizes = new int[shape.length];
        boolean[] red = new boolean[shape.length];
        int m = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            if (m > 0 && red[m - 1] == reduce[d]) {
                sizes[m - 1] *= shape[d];
            } else {
                sizes[m] = shape[d];
                red[m] = reduce[d];
                m++;
            }
        }
        boolean f32 = x.computeType() == DType.F32;
        float[] vf = f32 ? Elementwise.floatsOf(x) : null;
        double[] vd = f32 ? null : Elementwise.doublesOf(x);
        boolean fresh = false;
        while (true) {
            int k = m - 1;
            while (k >= 0 && !red[k]) k--;
            if (k < 0) break;
            int outer = 1, inner = 1;
            for (int i = 0; i < k; i++) outer *= sizes[i];
            for (int i = k + 1; i < m; i++) inner *= sizes[i];
            if (f32) vf = reduceF32(vf, outer, sizes[k], inner);
            else vd = reduceF64(vd, outer, sizes[k], inner);
            fresh = true;
            // Drop group k; the kept groups on either side become neighbours and merge.
            if (k > 0 && k < m - 1) {
                sizes[k - 1] *= sizes[k + 1];
                System.arraycopy(sizes, k + 2, sizes, k, m - k - 2);
                System.arraycopy(red, k + 2, red, k, m - k - 2);
                m -= 2;
            } else {
                System.arraycopy(sizes, k + 1, sizes, k, m - k - 1);
                System.arraycopy(red, k + 1, red, k, m - k - 1);
                m -= 1;
            }
        }
        if (f32) return Tensor.of(fresh ? vf : vf.clone(), resultShape);
        return Tensor.of(fresh ? vd : vd.clone(), resultShape);
    }

    /** Sums the middle dimension of a compact [outer, red, inner] array. */
    private static float[] reduceF32(float[] v, int outer, int red, int inner) {
        float[] out = new float[outer * inner];
        if (red == 0) return out;
        if (inner == 1) {
            if (outer == 1) {
                out[0] = (float) sumChunked(v, 0, red);
            } else {
                Parallel.forRange(outer, Math.max(1, GRAIN / red), (s, e) -> {
                    for (int o = s; o < e; o++) out[o] = (float) sumSegment(v, o * red, red);
                });
            }
        } else if (outer >= Parallel.threads() || inner < 2 * L) {
            Parallel.forRange(outer, Math.max(1, GRAIN / (red * inner)), (s, e) -> {
                for (int o = s; o < e; o++) columnSums(v, o * red * inner, red, inner, 0, inner, out, o * inner);
            });
        } else {
            for (int o = 0; o < outer; o++) {
                int base = o * red * inner, ob = o * inner;
                Parallel.forRange(inner, Math.max(L, GRAIN / red), (s, e) -> columnSums(v, base, red, inner, s, e, out, ob));
            }
        }
        return out;
    }

    /** The sum of v[from, from+len) in double: float vector lanes within blocks, double across blocks. */
    static double sumSegment(float[] v, int from, int len) {
        double total = 0;
        int i = from, end = from + len;
        while (i + L <= end) {
            int blockEnd = Math.min(end, i + LANE_BLOCK * L);
            FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
            for (; i + 2 * L <= blockEnd; i += 2 * L) {
                acc0 = acc0.add(FloatVector.fromArray(F, v, i));
                acc1 = acc1.add(FloatVector.fromArray(F, v, i + L));
            }
            for (; i + L <= blockEnd; i += L) acc0 = acc0.add(FloatVector.fromArray(F, v, i));
            total += lanesInDouble(acc0) + lanesInDouble(acc1);
        }
        for (; i < end; i++) total += v[i];
        return total;
    }

    /** The sum of a vector's lanes, added in double. */
    static double lanesInDouble(FloatVector v) {
        DoubleVector lo = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
        DoubleVector hi = (DoubleVector) v.convertShape(VectorOperators.F2D, D, 1);
        return lo.add(hi).reduceLanes(VectorOperators.ADD);
    }

    /** As {@link #sumSegment}, split into fixed chunks summed in parallel and added in order. */
    private static double sumChunked(float[] v, int from, int len) {
        int chunks = (len + CHUNK - 1) / CHUNK;
        if (chunks <= 1) return sumSegment(v, from, len);
        double[] partial = new double[chunks];
        Parallel.forRange(chunks, 1, (s, e) -> {
            for (int c = s; c < e; c++) {
                int start = c * CHUNK;
                partial[c] = sumSegment(v, from + start, Math.min(CHUNK, len - start));
            }
        });
        double total = 0;
        for (double p : partial) total += p;
        return total;
    }

    /** out[ob + c] = sum over r of v[base + r*inner + c] for columns c in [c0, c1). */
    private static void columnSums(float[] v, int base, int red, int inner, int c0, int c1, float[] out, int ob) {
        int w = c1 - c0, up = F.loopBound(w);
        float[] acc = new float[w];
        double[] total = red > ROW_BLOCK ? new double[w] : null;
        for (int r0 = 0; r0 < red; r0 += ROW_BLOCK) {
            int r1 = Math.min(red, r0 + ROW_BLOCK);
            if (r0 > 0) Arrays.fill(acc, 0f);
            for (int r = r0; r < r1; r++) {
                int row = base + r * inner + c0;
                int j = 0;
                for (; j < up; j += L) {
                    FloatVector.fromArray(F, acc, j).add(FloatVector.fromArray(F, v, row + j)).intoArray(acc, j);
                }
                for (; j < w; j++) acc[j] += v[row + j];
            }
            if (total != null) for (int j = 0; j < w; j++) total[j] += acc[j];
        }
        for (int j = 0; j < w; j++) out[ob + c0 + j] = total != null ? (float) total[j] : acc[j];
    }

    private static double[] reduceF64(double[] v, int outer, int red, int inner) {
        double[] out = new double[outer * inner];
        for (int o = 0; o < outer; o++) {
            for (int r = 0; r < red; r++) {
                int row = (o * red + r) * inner;
                for (int j = 0; j < inner; j++) out[o * inner + j] += v[row + j];
            }
        }
        return out;
    }
}
