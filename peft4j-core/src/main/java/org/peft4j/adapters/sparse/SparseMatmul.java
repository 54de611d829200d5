package org.peft4j.adapters.sparse;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.autograd.Autograd;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Linear maps whose weight W [out, in] is a {@link SparsePattern} plus one value per kept position, with
 * a cost proportional to the kept count: forward {@code y = x·Wᵀ + b}, backward dx = dy·W and the weight
 * gradient only at the kept positions (a pruned weight has no value, so it can have no gradient). Also
 * the top-k variant, where each row of x keeps only its k largest entries and only those columns of W
 * are read.
 *
 * <p>The float32 kernels work on blocks of {@link #BLOCK} tokens transposed into [features, tokens]
 * scratch: each kept weight then costs one broadcast multiply-add over a vector of tokens (no gathers),
 * eight register accumulators per output row; besides that work, proportional to the kept count, only
 * the transposes in and out of the blocks remain. dx runs the same kernel over Wᵀ's pattern, and the
 * weight gradient one dot product over the block's tokens per kept weight. The top-k kernel instead expands W into dense columns
 * once per call and adds, per token, the k selected columns: its cost follows k, not the density.
 * Float64 runs plain loops (gradient checks).
 */
public final class SparseMatmul {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Tokens per block: eight vectors, each with its own accumulator register. */
    static final int BLOCK = 8 * L;
    /** Features per strip of the block transposes. */
    private static final int STRIP = 16;
    /** Tokens per task of the top-k kernels. */
    private static final int TOPK_GRAIN = 64;

    private SparseMatmul() {}

    /**
     * x [..., in] times the sparse weight [out, in] given by {@code pattern} and {@code values} [nnz], plus
     * {@code bias} [out] (or null) → [..., out]. F64 if any input is F64, else F32. Above a density of
     * {@value #DENSE_ABOVE} the weight is expanded and multiplied densely: the packed GEMM then beats a
     * kernel whose cost follows the kept count (measured with SparseAdapterBench).
     */
    public static Tensor linear(Tensor x, SparsePattern pattern, Tensor values, Tensor bias) {
        return linear(x, pattern, values, bias, pattern.density() > DENSE_ABOVE);
    }

    /** The density above which {@link #linear} runs the dense GEMM. */
    static final double DENSE_ABOVE = 0.25;

    /** {@link #linear} through the dense GEMM ({@code dense}) or the sparse kernels, whatever the density. */
    static Tensor linear(Tensor x, SparsePattern pattern, Tensor values, Tensor bias, boolean dense) {
        check("sparse linear", x, pattern, values, bias);
        if (dense) {
            Tensor w = densify(pattern, values);
            if (resultType(x, values, bias) == DType.F64 && w.dtype() != DType.F64) w = w.to(DType.F64);
            return org.peft4j.ops.Linear.linear(x, w, bias);
        }
        DType type = resultType(x, values, bias);
        int in = pattern.cols(), out = pattern.rows(), n = Math.toIntExact(x.numel() / in);
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = out;
        Tensor y;
        Object xv, vv;
        if (type == DType.F32) {
            float[] xf = x.floats(), vf = values.floats();
            y = Tensor.of(forwardF32(xf, n, pattern, vf, bias == null ? null : bias.floats()), outShape);
            xv = xf;
            vv = vf;
        } else {
            double[] xd = x.doubles(), vd = values.doubles();
            y = Tensor.of(forwardF64(xd, n, pattern, vd, bias == null ? null : bias.doubles()), outShape);
            xv = xd;
            vv = vd;
        }
        int[] xShape = x.shape();
        return Autograd.record(y, "sparseLinear", g -> {
            boolean wantX = x.requiresGrad(), wantV = values.requiresGrad();
            Tensor dx = null, dv = null;
            if (type == DType.F32) {
                float[] gf = g.floats();
                float[] dxf = wantX ? new float[n * in] : null, dvf = wantV ? new float[pattern.nnz()] : null;
                if (wantX || wantV) backwardF32((float[]) xv, gf, n, pattern, (float[]) vv, dxf, dvf);
                if (wantX) dx = Tensor.of(dxf, xShape);
                if (wantV) dv = Tensor.of(dvf, pattern.nnz());
            } else {
                double[] gd = g.to(DType.F64).doubles();
                double[] dxd = wantX ? new double[n * in] : null, dvd = wantV ? new double[pattern.nnz()] : null;
                backwardF64((double[]) xv, gd, n, pattern, (double[]) vv, dxd, dvd);
                if (wantX) dx = Tensor.of(dxd, xShape);
                if (wantV) dv = Tensor.of(dvd, pattern.nnz());
            }
            return new Tensor[] {dx, dv, biasGrad(g, bias, type)};
        }, x, values, bias);
    }

    /**
     * The dense weight [out, in]: {@code values} at the kept positions, zeros elsewhere. Its gradient
     * reaches the values at the kept positions only.
     */
    static Tensor densify(SparsePattern p, Tensor values) {
        p.checkValues(values.numel());
        int rows = p.rows(), cols = p.cols();
        int[] start = p.rowStart(), col = p.colIndex();
        boolean f64 = values.dtype() == DType.F64;
        Tensor w;
        if (f64) {
            w = Tensor.of(p.scatter(values.doubles()), rows, cols);
        } else {
            float[] v = values.floats(), d = new float[rows * cols];
            for (int o = 0; o < rows; o++) for (int j = start[o]; j < start[o + 1]; j++) d[o * cols + col[j]] = v[j];
            w = Tensor.of(d, rows, cols);
        }
        return Autograd.record(w, "sparseDensify", g -> {
            if (f64) return new Tensor[] {Tensor.of(p.gather(g.to(DType.F64).doubles()), p.nnz())};
            float[] gf = g.floats(), dv = new float[p.nnz()];
            for (int o = 0; o < rows; o++) for (int j = start[o]; j < start[o + 1]; j++) dv[j] = gf[o * cols + col[j]];
            return new Tensor[] {Tensor.of(dv, p.nnz())};
        }, values);
    }

    /**
     * As {@link #linear}, but each row of x first keeps only its k largest entries (equal values ranked by
     * position, lower first, as {@link org.peft4j.ops.Indexing#topKMask}); only the columns of W at those k positions are
     * read, forward and backward, and the gradient reaches x only at them.
     */
    public static Tensor topKLinear(Tensor x, int k, SparsePattern pattern, Tensor values, Tensor bias) {
        check("top-k sparse linear", x, pattern, values, bias);
        int in = pattern.cols(), out = pattern.rows(), n = Math.toIntExact(x.numel() / in);
        if (k < 1 || k > in) throw new IllegalArgumentException("top-k sparse linear: k = " + k + " must be in [1, " + in + "]");
        DType type = resultType(x, values, bias);
        int[] selected = selectTopK(x, k);
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = out;
        Tensor y;
        Object xv, wt;
        if (type == DType.F32) {
            float[] xf = x.floats(), wtf = transposedDense(pattern, values.floats());
            y = Tensor.of(topKForwardF32(xf, n, k, selected, in, out, wtf, bias == null ? null : bias.floats()), outShape);
            xv = xf;
            wt = wtf;
        } else {
            double[] xd = x.doubles(), wtd = transposedDense(pattern, values.doubles());
            y = Tensor.of(topKForwardF64(xd, n, k, selected, in, out, wtd, bias == null ? null : bias.doubles()), outShape);
            xv = xd;
            wt = wtd;
        }
        int[] xShape = x.shape();
        return Autograd.record(y, "topKSparseLinear", g -> {
            boolean wantX = x.requiresGrad(), wantV = values.requiresGrad();
            Tensor dx = null, dv = null;
            if (type == DType.F32) {
                float[] gf = g.floats();
                if (wantX) dx = Tensor.of(topKInputGradF32(gf, n, k, selected, in, out, (float[]) wt), xShape);
                if (wantV) dv = Tensor.of(gatherTransposed(pattern, topKWeightGradF32((float[]) xv, gf, n, k, selected, in, out)), pattern.nnz());
            } else {
                double[] gd = g.to(DType.F64).doubles();
                if (wantX) dx = Tensor.of(topKInputGradF64(gd, n, k, selected, in, out, (double[]) wt), xShape);
                if (wantV) dv = Tensor.of(gatherTransposed(pattern, topKWeightGradF64((double[]) xv, gd, n, k, selected, in, out)), pattern.nnz());
            }
            return new Tensor[] {dx, dv, biasGrad(g, bias, type)};
        }, x, values, bias);
    }

    // ---------------------------------------------------------------- checks and shared helpers

    private static void check(String op, Tensor x, SparsePattern p, Tensor values, Tensor bias) {
        if (x.dim() == 0 || x.size(-1) != p.cols()) {
            throw new IllegalArgumentException(op + ": input " + Arrays.toString(x.shape()) + " does not match the sparse weight "
                    + p.rows() + "x" + p.cols() + " (expected input [..., " + p.cols() + "])");
        }
        if (values.dim() != 1) throw new IllegalArgumentException(op + ": values must be 1-D, got " + Arrays.toString(values.shape()));
        p.checkValues(values.numel());
        if (bias != null && (bias.dim() != 1 || bias.size(0) != p.rows())) {
            throw new IllegalArgumentException(op + ": bias " + Arrays.toString(bias.shape()) + " must be [" + p.rows() + "]");
        }
        for (Tensor t : new Tensor[] {x, values, bias}) {
            if (t != null && !t.dtype().isFloating()) throw new IllegalArgumentException(op + " needs floating tensors, got " + t.dtype());
        }
    }

    private static DType resultType(Tensor x, Tensor values, Tensor bias) {
        boolean f64 = x.dtype() == DType.F64 || values.dtype() == DType.F64 || (bias != null && bias.dtype() == DType.F64);
        return f64 ? DType.F64 : DType.F32;
    }

    private static Tensor biasGrad(Tensor g, Tensor bias, DType type) {
        if (bias == null || !bias.requiresGrad()) return null;
        return Elementwise.sumToShape(g.to(type).detach(), bias.shape()).detachedCopy(type);
    }

    /**
     * The k positions kept in every row of x (k per row, ascending): the entries above the row's k-th largest
     * value, then those equal to it by lower position, under {@link Double#compare}'s order, as
     * {@link org.peft4j.ops.Indexing#topKMask} keeps them. A selection per row finds the threshold in linear time.
     */
    private static int[] selectTopK(Tensor x, int k) {
        int m = x.size(-1), rows = Math.toIntExact(x.numel() / m);
        double[] v = x.computeType() == DType.F64 ? x.doubles() : null;
        float[] f = v == null ? x.floats() : null;
        int[] out = new int[rows * k];
        Parallel.forRange(rows, TOPK_GRAIN, (r0, r1) -> {
            long[] keys = new long[m], scratch = new long[m];
            for (int r = r0; r < r1; r++) {
                for (int i = 0; i < m; i++) keys[i] = orderKey(v != null ? v[r * m + i] : f[r * m + i]);
                System.arraycopy(keys, 0, scratch, 0, m);
                long threshold = select(scratch, m, m - k);
                int above = 0;
                for (int i = 0; i < m; i++) if (keys[i] > threshold) above++;
                int ties = k - above, o = r * k;
                for (int i = 0; i < m; i++) {
                    if (keys[i] > threshold || (keys[i] == threshold && ties-- > 0)) out[o++] = i;
                }
            }
        });
        return out;
    }

    /** A long ordered as {@link Double#compare} orders the doubles (-0.0 below 0.0, NaN above +inf). */
    private static long orderKey(double d) {
        long bits = Double.doubleToLongBits(d);
        return bits ^ ((bits >> 63) & Long.MAX_VALUE);
    }

    /** The value at position {@code pos} of a[0..n) sorted ascending (Hoare's selection; reorders a). */
    private static long select(long[] a, int n, int pos) {
        int lo = 0, hi = n - 1;
        while (lo < hi) {
            long x = a[lo], y = a[(lo + hi) >>> 1], z = a[hi];
            long pivot = Math.max(Math.min(x, y), Math.min(Math.max(x, y), z));
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    long t = a[i];
                    a[i++] = a[j];
                    a[j--] = t;
                }
            }
            if (pos <= j) hi = j;
            else if (pos >= i) lo = i;
            else return a[pos];
        }
        return a[lo];
    }

    /** W as a dense [in, out] row-major matrix (row c = column c of W), pruned positions zero. */
    private static float[] transposedDense(SparsePattern p, float[] v) {
        int out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        float[] wt = new float[p.cols() * out];
        for (int o = 0; o < out; o++) for (int j = rs[o]; j < rs[o + 1]; j++) wt[ci[j] * out + o] = v[j];
        return wt;
    }

    private static double[] transposedDense(SparsePattern p, double[] v) {
        int out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        double[] wt = new double[p.cols() * out];
        for (int o = 0; o < out; o++) for (int j = rs[o]; j < rs[o + 1]; j++) wt[ci[j] * out + o] = v[j];
        return wt;
    }

    /** The kept entries of a dense [in, out] gradient of Wᵀ, in the pattern's value order. */
    private static float[] gatherTransposed(SparsePattern p, float[] gradT) {
        int out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        float[] dv = new float[p.nnz()];
        for (int o = 0; o < out; o++) for (int j = rs[o]; j < rs[o + 1]; j++) dv[j] = gradT[ci[j] * out + o];
        return dv;
    }

    private static double[] gatherTransposed(SparsePattern p, double[] gradT) {
        int out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        double[] dv = new double[p.nnz()];
        for (int o = 0; o < out; o++) for (int j = rs[o]; j < rs[o + 1]; j++) dv[j] = gradT[ci[j] * out + o];
        return dv;
    }

    // ---------------------------------------------------------------- float32 sparse linear

    static float[] forwardF32(float[] x, int n, SparsePattern p, float[] v, float[] bias) {
        int in = p.cols(), out = p.rows();
        float[] y = new float[n * out];
        int blocks = (n + BLOCK - 1) / BLOCK;
        Parallel.forRange(blocks, 1, (b0, b1) -> {
            float[] xT = new float[in * BLOCK], yT = new float[out * BLOCK];
            for (int blk = b0; blk < b1; blk++) {
                int t0 = blk * BLOCK, nb = Math.min(BLOCK, n - t0);
                toBlock(x, t0, nb, in, xT);
                rowsTimesBlock(p, v, xT, yT);
                fromBlock(yT, nb, out, y, t0, bias);
            }
        });
        return y;
    }

    /**
     * dx (when non-null) and the kept-weight gradient dv (when non-null) from x and the output gradient g,
     * both [n, ·] row-major. Threads take disjoint token blocks; each sums its own dv and adds it at the end.
     */
    static void backwardF32(float[] x, float[] g, int n, SparsePattern p, float[] v, float[] dx, float[] dv) {
        int in = p.cols(), out = p.rows();
        int blocks = (n + BLOCK - 1) / BLOCK;
        // dx = g·W is the forward product with Wᵀ, whose rows are W's columns: the same register-accumulated kernel
        SparsePattern.Transposed t = dx != null ? p.transposed() : null;
        float[] vT = null;
        if (t != null) {
            vT = new float[v.length];
            for (int j = 0; j < vT.length; j++) vT[j] = v[t.source()[j]];
        }
        float[] valuesT = vT;
        Parallel.forRange(blocks, 1, (b0, b1) -> {
            float[] gT = new float[out * BLOCK];
            float[] xT = dv != null ? new float[in * BLOCK] : null, dxT = dx != null ? new float[in * BLOCK] : null;
            float[] dvPart = dv != null ? new float[dv.length] : null;
            for (int blk = b0; blk < b1; blk++) {
                int t0 = blk * BLOCK, nb = Math.min(BLOCK, n - t0);
                toBlock(g, t0, nb, out, gT);
                if (dv != null) {
                    toBlock(x, t0, nb, in, xT);
                    weightGradBlock(p, gT, xT, dvPart);
                }
                if (dx != null) {
                    rowsTimesBlock(t.pattern(), valuesT, gT, dxT);
                    fromBlock(dxT, nb, in, dx, t0, null);
                }
            }
            if (dv != null) {
                synchronized (dv) {
                    for (int j = 0; j < dv.length; j++) dv[j] += dvPart[j];
                }
            }
        });
    }

    /**
     * rows t0 .. t0+nb of a row-major [n, width] matrix → block [width, BLOCK]; columns past nb are zero.
     * Strips of {@link #STRIP} features keep both the rows read and the block rows written in L1.
     */
    private static void toBlock(float[] src, int t0, int nb, int width, float[] block) {
        if (nb < BLOCK) Arrays.fill(block, 0f);
        for (int i0 = 0; i0 < width; i0 += STRIP) {
            int i1 = Math.min(width, i0 + STRIP);
            for (int tt = 0; tt < nb; tt++) {
                int row = (t0 + tt) * width;
                for (int i = i0; i < i1; i++) block[i * BLOCK + tt] = src[row + i];
            }
        }
    }

    /** block [width, BLOCK] → rows t0 .. t0+nb of a row-major [n, width] matrix, plus bias (when non-null). */
    private static void fromBlock(float[] block, int nb, int width, float[] dst, int t0, float[] bias) {
        for (int i0 = 0; i0 < width; i0 += STRIP) {
            int i1 = Math.min(width, i0 + STRIP);
            for (int tt = 0; tt < nb; tt++) {
                int row = (t0 + tt) * width;
                if (bias == null) {
                    for (int i = i0; i < i1; i++) dst[row + i] = block[i * BLOCK + tt];
                } else {
                    for (int i = i0; i < i1; i++) dst[row + i] = block[i * BLOCK + tt] + bias[i];
                }
            }
        }
    }

    /** yT[o, :] = Σ_j v[j] · xT[col(j), :] over the kept weights j of row o. */
    private static void rowsTimesBlock(SparsePattern p, float[] v, float[] xT, float[] yT) {
        int[] rs = p.rowStart(), ci = p.colIndex();
        for (int o = 0, rows = p.rows(); o < rows; o++) {
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
            for (int j = rs[o], end = rs[o + 1]; j < end; j++) {
                FloatVector w = FloatVector.broadcast(F, v[j]);
                int c = ci[j] * BLOCK;
                a0 = FloatVector.fromArray(F, xT, c).fma(w, a0);
                a1 = FloatVector.fromArray(F, xT, c + L).fma(w, a1);
                a2 = FloatVector.fromArray(F, xT, c + 2 * L).fma(w, a2);
                a3 = FloatVector.fromArray(F, xT, c + 3 * L).fma(w, a3);
                a4 = FloatVector.fromArray(F, xT, c + 4 * L).fma(w, a4);
                a5 = FloatVector.fromArray(F, xT, c + 5 * L).fma(w, a5);
                a6 = FloatVector.fromArray(F, xT, c + 6 * L).fma(w, a6);
                a7 = FloatVector.fromArray(F, xT, c + 7 * L).fma(w, a7);
            }
            int r = o * BLOCK;
            a0.intoArray(yT, r);
            a1.intoArray(yT, r + L);
            a2.intoArray(yT, r + 2 * L);
            a3.intoArray(yT, r + 3 * L);
            a4.intoArray(yT, r + 4 * L);
            a5.intoArray(yT, r + 5 * L);
            a6.intoArray(yT, r + 6 * L);
            a7.intoArray(yT, r + 7 * L);
        }
    }

    /** dv[j] += gT[o, :] · xT[col(j), :] over the kept weights j of every row o (the block's share of the sum over tokens). */
    private static void weightGradBlock(SparsePattern p, float[] gT, float[] xT, float[] dv) {
        int[] rs = p.rowStart(), ci = p.colIndex();
        for (int o = 0, rows = p.rows(); o < rows; o++) {
            int r = o * BLOCK;
            FloatVector g0 = FloatVector.fromArray(F, gT, r), g1 = FloatVector.fromArray(F, gT, r + L),
                    g2 = FloatVector.fromArray(F, gT, r + 2 * L), g3 = FloatVector.fromArray(F, gT, r + 3 * L),
                    g4 = FloatVector.fromArray(F, gT, r + 4 * L), g5 = FloatVector.fromArray(F, gT, r + 5 * L),
                    g6 = FloatVector.fromArray(F, gT, r + 6 * L), g7 = FloatVector.fromArray(F, gT, r + 7 * L);
            for (int j = rs[o], end = rs[o + 1]; j < end; j++) {
                int c = ci[j] * BLOCK;
                FloatVector s0 = g0.mul(FloatVector.fromArray(F, xT, c));
                FloatVector s1 = g1.mul(FloatVector.fromArray(F, xT, c + L));
                s0 = g2.fma(FloatVector.fromArray(F, xT, c + 2 * L), s0);
                s1 = g3.fma(FloatVector.fromArray(F, xT, c + 3 * L), s1);
                s0 = g4.fma(FloatVector.fromArray(F, xT, c + 4 * L), s0);
                s1 = g5.fma(FloatVector.fromArray(F, xT, c + 5 * L), s1);
                s0 = g6.fma(FloatVector.fromArray(F, xT, c + 6 * L), s0);
                s1 = g7.fma(FloatVector.fromArray(F, xT, c + 7 * L), s1);
                dv[j] += s0.add(s1).reduceLanes(VectorOperators.ADD);
            }
        }
    }

    // ---------------------------------------------------------------- float64 sparse linear

    static double[] forwardF64(double[] x, int n, SparsePattern p, double[] v, double[] bias) {
        int in = p.cols(), out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        double[] y = new double[n * out];
        for (int t = 0; t < n; t++) {
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int j = rs[o]; j < rs[o + 1]; j++) s += v[j] * x[t * in + ci[j]];
                y[t * out + o] = s;
            }
        }
        return y;
    }

    static void backwardF64(double[] x, double[] g, int n, SparsePattern p, double[] v, double[] dx, double[] dv) {
        int in = p.cols(), out = p.rows();
        int[] rs = p.rowStart(), ci = p.colIndex();
        for (int t = 0; t < n; t++) {
            for (int o = 0; o < out; o++) {
                double go = g[t * out + o];
                for (int j = rs[o]; j < rs[o + 1]; j++) {
                    if (dx != null) dx[t * in + ci[j]] += v[j] * go;
                    if (dv != null) dv[j] += go * x[t * in + ci[j]];
                }
            }
        }
    }

    // ---------------------------------------------------------------- top-k, float32

    private static float[] topKForwardF32(float[] x, int n, int k, int[] sel, int in, int out, float[] wt, float[] bias) {
        float[] y = new float[n * out];
        Parallel.forRange(n, TOPK_GRAIN, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                int row = t * out;
                if (bias != null) System.arraycopy(bias, 0, y, row, out);
                for (int r = 0; r < k; r++) {
                    int u = sel[t * k + r];
                    axpy(x[t * in + u], wt, u * out, y, row, out);
                }
            }
        });
        return y;
    }

    private static float[] topKInputGradF32(float[] g, int n, int k, int[] sel, int in, int out, float[] wt) {
        float[] dx = new float[n * in];
        Parallel.forRange(n, TOPK_GRAIN, (t0, t1) -> {
            for (int t = t0; t < t1; t++) {
                for (int r = 0; r < k; r++) {
                    int u = sel[t * k + r];
                    dx[t * in + u] = dot(g, t * out, wt, u * out, out);
                }
            }
        });
        return dx;
    }

    /** The gradient of Wᵀ [in, out] (dense; only the k selected rows per token receive anything). */
    private static float[] topKWeightGradF32(float[] x, float[] g, int n, int k, int[] sel, int in, int out) {
        float[] dwt = new float[in * out];
        Parallel.forRange(n, TOPK_GRAIN, (t0, t1) -> {
            float[] part = new float[in * out];
            for (int t = t0; t < t1; t++) {
                for (int r = 0; r < k; r++) {
                    int u = sel[t * k + r];
                    axpy(x[t * in + u], g, t * out, part, u * out, out);
                }
            }
            synchronized (dwt) {
                for (int i = 0; i < dwt.length; i++) dwt[i] += part[i];
            }
        });
        return dwt;
    }

    /** dst[d0 .. d0+len) += a · src[s0 .. s0+len). */
    private static void axpy(float a, float[] src, int s0, float[] dst, int d0, int len) {
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (int bound = F.loopBound(len); i < bound; i += L) {
            FloatVector.fromArray(F, src, s0 + i).fma(av, FloatVector.fromArray(F, dst, d0 + i)).intoArray(dst, d0 + i);
        }
        for (; i < len; i++) dst[d0 + i] += a * src[s0 + i];
    }

    private static float dot(float[] a, int a0, float[] b, int b0, int len) {
        FloatVector s = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(len); i < bound; i += L) {
            s = FloatVector.fromArray(F, a, a0 + i).fma(FloatVector.fromArray(F, b, b0 + i), s);
        }
        float sum = s.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) sum += a[a0 + i] * b[b0 + i];
        return sum;
    }

    // ---------------------------------------------------------------- top-k, float64

    private static double[] topKForwardF64(double[] x, int n, int k, int[] sel, int in, int out, double[] wt, double[] bias) {
        double[] y = new double[n * out];
        for (int t = 0; t < n; t++) {
            if (bias != null) System.arraycopy(bias, 0, y, t * out, out);
            for (int r = 0; r < k; r++) {
                int u = sel[t * k + r];
                double a = x[t * in + u];
                for (int o = 0; o < out; o++) y[t * out + o] += a * wt[u * out + o];
            }
        }
        return y;
    }

    private static double[] topKInputGradF64(double[] g, int n, int k, int[] sel, int in, int out, double[] wt) {
        double[] dx = new double[n * in];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < k; r++) {
                int u = sel[t * k + r];
                double s = 0;
                for (int o = 0; o < out; o++) s += g[t * out + o] * wt[u * out + o];
                dx[t * in + u] = s;
            }
        }
        return dx;
    }

    private static double[] topKWeightGradF64(double[] x, double[] g, int n, int k, int[] sel, int in, int out) {
        double[] dwt = new double[in * out];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < k; r++) {
                int u = sel[t * k + r];
                double a = x[t * in + u];
                for (int o = 0; o < out; o++) dwt[u * out + o] += a * g[t * out + o];
            }
        }
        return dwt;
    }
}
