package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

/**
 * Reading elements by index or by mask: gather, indexSelect, maskedFill, and the top-k mask that
 * sparse adapters use to keep only the k strongest bottleneck units of each token.
 */
public final class Indexing {
    /** Elements (rows × row length) of top-k work one worker takes at least. */
    private static final int TOPK_GRAIN_ELEMENTS = 1 << 14;

    private Indexing() {}

    /**
     * torch.gather: {@code out[i][j][k] = x[index[i][j][k]][j][k]} for axis 0 (likewise for other axes).
     * {@code index} (I64 or I32) has x's rank and no dimension larger than x's, except along the axis;
     * the result has index's shape. Backward scatter-adds, so repeated indices accumulate.
     */
    public static Tensor gather(Tensor x, int axis, Tensor index) {
        int a = x.axis(axis);
        int[] xs = x.shape(), is = index.shape();
        if (is.length != xs.length) {
            throw new IllegalArgumentException("gather: index of shape " + Arrays.toString(is)
                    + " must have the rank of x " + Arrays.toString(xs));
        }
        for (int d = 0; d < xs.length; d++) {
            if (d != a && is[d] > xs[d]) {
                throw new IllegalArgumentException("gather along axis " + axis + ": index shape " + Arrays.toString(is)
                        + " is larger than x shape " + Arrays.toString(xs) + " in dimension " + d);
            }
        }
        long[] ids = indexValues(index, "gather index");
        long[] xStrides = Tensor.contiguousStrides(xs);
        // positions[i] = flat position in x (row-major) read by output element i
        int[] positions = new int[ids.length];
        int[] pos = new int[is.length];
        long base = 0;
        for (int i = 0; i < ids.length; i++) {
            long id = ids[i];
            if (id < 0 || id >= xs[a]) throw outOfRange("gather", id, a, xs);
            positions[i] = (int) (base + id * xStrides[a]);
            for (int d = is.length - 1; d >= 0; d--) {
                if (d != a) base += xStrides[d];
                if (++pos[d] < is[d]) break;
                if (d != a) base -= xStrides[d] * is[d];
                pos[d] = 0;
            }
        }
        Object xv = Shapes.values(x, x.computeType());
        Object out;
        if (xv instanceof float[] f) {
            float[] o = new float[positions.length];
            for (int i = 0; i < o.length; i++) o[i] = f[positions[i]];
            out = o;
        } else {
            double[] dv = (double[]) xv, o = new double[positions.length];
            for (int i = 0; i < o.length; i++) o[i] = dv[positions[i]];
            out = o;
        }
        int xNumel = Math.toIntExact(x.numel());
        return Autograd.record(Shapes.wrap(out, is), "gather", g -> {
            Object gv = Shapes.values(g, g.computeType());
            Object gx;
            if (gv instanceof float[] f) {
                float[] s = new float[xNumel];
                for (int i = 0; i < positions.length; i++) s[positions[i]] += f[i];
                gx = s;
            } else {
                double[] dv = (double[]) gv, s = new double[xNumel];
                for (int i = 0; i < positions.length; i++) s[positions[i]] += dv[i];
                gx = s;
            }
            return new Tensor[] {Shapes.wrap(gx, xs)};
        }, x);
    }

    /**
     * The slices of {@code x} at the given positions along {@code axis}, in index order (repeats
     * allowed): torch.index_select. {@code index} is 1-D, I64 or I32. Backward adds each output slice
     * back into the slice it came from.
     */
    public static Tensor indexSelect(Tensor x, int axis, Tensor index) {
        int a = x.axis(axis);
        if (index.dim() != 1) {
            throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Arrays.toString(index.shape()));
        }
        int[] xs = x.shape();
        long[] ids = indexValues(index, "indexSelect index");
        for (long id : ids) if (id < 0 || id >= xs[a]) throw outOfRange("indexSelect", id, a, xs);
        int outer = product(xs, 0, a), inner = product(xs, a + 1, xs.length);
        int m = ids.length, size = xs[a];
        int[] outShape = xs.clone();
        outShape[a] = m;
        DType type = x.computeType();
        Object xv = Shapes.values(x, type);
        Object out = Shapes.newArray(type, Math.multiplyExact(outer, m * inner));
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < m; j++) {
                System.arraycopy(xv, (int) ((o * size + ids[j]) * inner), out, (o * m + j) * inner, inner);
            }
        }
        int xNumel = Math.toIntExact(x.numel());
        return Autograd.record(Shapes.wrap(out, outShape), "indexSelect", g -> {
            Object gv = Shapes.values(g, g.computeType());
            Object gx = Shapes.newArray(g.computeType(), xNumel);
            for (int o = 0; o < outer; o++) {
                for (int j = 0; j < m; j++) {
                    int src = (o * m + j) * inner, dst = (int) ((o * size + ids[j]) * inner);
                    addRow(gv, src, gx, dst, inner);
                }
            }
            return new Tensor[] {Shapes.wrap(gx, xs)};
        }, x);
    }

    /**
     * {@code value} where {@code mask} (any dtype, broadcastable to x's shape) is nonzero, x elsewhere.
     * Filled elements no longer depend on x, so their gradient is zero.
     */
    public static Tensor maskedFill(Tensor x, Tensor mask, double value) {
        int[] xs = x.shape();
        if (!Arrays.equals(broadcastOrNull(xs, mask.shape()), xs)) {
            throw new IllegalArgumentException("maskedFill: mask of shape " + Arrays.toString(mask.shape())
                    + " does not broadcast to x's shape " + Arrays.toString(xs));
        }
        boolean[] filled = broadcastFlags(mask, xs);
        DType type = x.computeType();
        Object xv = Shapes.values(x, type);
        Object out;
        if (xv instanceof float[] f) {
            float[] o = new float[f.length];
            float v = (float) value;
            for (int i = 0; i < o.length; i++) o[i] = filled[i] ? v : f[i];
            out = o;
        } else {
            double[] dv = (double[]) xv, o = new double[dv.length];
            for (int i = 0; i < o.length; i++) o[i] = filled[i] ? value : dv[i];
            out = o;
        }
        return Autograd.record(Shapes.wrap(out, xs), "maskedFill",
                g -> new Tensor[] {Shapes.wrap(keepWhere(Shapes.values(g, g.computeType()), filled, false), xs)}, x);
    }

    /**
     * Keeps the k largest entries of every row along the last axis and zeroes the rest. Equal values
     * are ranked by position (the lower index wins), so exactly k entries survive; values are ordered as
     * {@link Double#compare} orders them (NaN above +inf). The gradient flows only through kept entries.
     */
    public static Tensor topKMask(Tensor x, int k) {
        int[] xs = x.shape();
        checkK(xs, k, "topKMask");
        Object xv = Shapes.values(x, x.computeType());
        boolean[] kept = topKKept(xv, xs[xs.length - 1], k);
        Tensor out = Shapes.wrap(keepWhere(xv, kept, true), xs);
        return Autograd.record(out, "topKMask",
                g -> new Tensor[] {Shapes.wrap(keepWhere(Shapes.values(g, g.computeType()), kept, true), xs)}, x);
    }

    /**
     * The positions (I64, shape [..., k]) of the k largest entries of every row along the last axis,
     * largest first, equal values by lower index first: the entries {@link #topKMask} keeps.
     */
    public static Tensor topKIndices(Tensor x, int k) {
        int[] xs = x.shape();
        checkK(xs, k, "topKIndices");
        int n = xs[xs.length - 1];
        int rows = n == 0 ? 0 : Math.toIntExact(x.numel() / n);
        double[] v = Shapes.doubles(x);
        long[] out = new long[rows * k];
        Parallel.forRange(rows, Math.max(1, TOPK_GRAIN_ELEMENTS / Math.max(1, n)), (start, end) -> {
            int[] order = new int[n], scratch = new int[k];
            for (int r = start; r < end; r++) {
                int off = r * n;
                selectTop(v, off, order, n, k);
                sortByRank(v, off, order, scratch, k);
                for (int j = 0; j < k; j++) out[r * k + j] = order[j];
            }
        });
        int[] outShape = xs.clone();
        outShape[xs.length - 1] = k;
        return Tensor.of(out, outShape);
    }

    // ---------------------------------------------------------------- helpers shared with Embedding

    /** The values of an I64 or I32 index tensor in row-major order (the tensor's own array when possible). */
    static long[] indexValues(Tensor index, String what) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(what + " must be I64 or I32, got " + index.dtype());
        }
        if (index.dtype() == DType.I64 && index.isContiguous() && index.offset() == 0 && index.segment().address() == 0
                && index.segment().heapBase().orElse(null) instanceof long[] own && own.length == index.numel()) {
            return own;
        }
        return index.toLongArray();
    }

    // ---------------------------------------------------------------- private

    private static IndexOutOfBoundsException outOfRange(String op, long id, int axis, int[] shape) {
        return new IndexOutOfBoundsException(op + ": index " + id + " is out of range for size " + shape[axis]
                + " of axis " + axis + " of x " + Arrays.toString(shape));
    }

    private static int product(int[] shape, int from, int to) {
        long p = 1;
        for (int d = from; d < to; d++) p *= shape[d];
        return Math.toIntExact(p);
    }

    /** dst[dstPos, dstPos + length) += src[srcPos, srcPos + length) on two float[] or two double[]. */
    private static void addRow(Object src, int srcPos, Object dst, int dstPos, int length) {
        if (src instanceof float[] f) {
            float[] d = (float[]) dst;
            for (int k = 0; k < length; k++) d[dstPos + k] += f[srcPos + k];
        } else {
            double[] s = (double[]) src, d = (double[]) dst;
            for (int k = 0; k < length; k++) d[dstPos + k] += s[srcPos + k];
        }
    }

    private static int[] broadcastOrNull(int[] a, int[] b) {
        try {
            return Elementwise.broadcastShape(a, b);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /**
     * For every element of shape {@code xs} (row-major), whether the mask broadcast to it is nonzero.
     * Reads the mask once at its own (usually much smaller) size, then walks xs with broadcast strides.
     */
    private static boolean[] broadcastFlags(Tensor mask, int[] xs) {
        double[] mv = Shapes.doubles(mask);
        int[] ms = mask.shape();
        long[] maskStrides = Tensor.contiguousStrides(ms);
        int rank = xs.length, lead = rank - ms.length;
        long[] strides = new long[rank];
        for (int d = lead; d < rank; d++) strides[d] = ms[d - lead] == 1 ? 0 : maskStrides[d - lead];
        boolean[] flags = new boolean[Math.toIntExact(Tensor.numel(xs))];
        if (flags.length == 0) return flags;
        if (rank == 0) {
            flags[0] = mv[0] != 0;
            return flags;
        }
        int inner = xs[rank - 1];
        long step = strides[rank - 1];
        int[] pos = new int[rank - 1];
        long base = 0;
        for (int k = 0; k < flags.length; k += inner) {
            for (int j = 0; j < inner; j++) flags[k + j] = mv[(int) (base + j * step)] != 0;
            for (int d = rank - 2; d >= 0; d--) {
                base += strides[d];
                if (++pos[d] < xs[d]) break;
                base -= strides[d] * xs[d];
                pos[d] = 0;
            }
        }
        return flags;
    }

    /** A copy of {@code values} with the elements where flag[i] != keep set to zero. */
    private static Object keepWhere(Object values, boolean[] flag, boolean keep) {
        if (values instanceof float[] f) {
            float[] o = new float[f.length];
            for (int i = 0; i < o.length; i++) if (flag[i] == keep) o[i] = f[i];
            return o;
        }
        double[] d = (double[]) values, o = new double[d.length];
        for (int i = 0; i < o.length; i++) if (flag[i] == keep) o[i] = d[i];
        return o;
    }

    private static void checkK(int[] shape, int k, String op) {
        if (shape.length == 0) throw new IllegalArgumentException(op + " needs at least one dimension, got a scalar");
        int n = shape[shape.length - 1];
        if (k < 0 || k > n) {
            throw new IllegalArgumentException(op + ": k = " + k + " must be between 0 and the last axis size " + n
                    + " of shape " + Arrays.toString(shape));
        }
    }

    /** For each element of the rows of length n in xv, whether it is among the k largest of its row. */
    private static boolean[] topKKept(Object xv, int n, int k) {
        int numel = xv instanceof float[] f ? f.length : ((double[]) xv).length;
        boolean[] kept = new boolean[numel];
        if (k == n) {
            Arrays.fill(kept, true);
            return kept;
        }
        Parallel.forRange(numel / n, Math.max(1, TOPK_GRAIN_ELEMENTS / n), (start, end) -> {
            double[] row = new double[n];
            int[] order = new int[n];
            for (int r = start; r < end; r++) {
                int off = r * n;
                if (xv instanceof float[] f) {
                    for (int j = 0; j < n; j++) row[j] = f[off + j];
                } else {
                    System.arraycopy(xv, off, row, 0, n);
                }
                selectTop(row, 0, order, n, k);
                for (int j = 0; j < k; j++) kept[off + order[j]] = true;
            }
        });
        return kept;
    }

    /** True when entry a of the row ranks above entry b: larger value, or equal value and lower index. */
    private static boolean above(double[] v, int off, int a, int b) {
        int c = Double.compare(v[off + a], v[off + b]);
        return c > 0 || (c == 0 && a < b);
    }

    /**
     * Quickselect: fills order[0..n) with 0..n-1 permuted so that order[0..k) are the k top-ranked
     * entries of the row v[off..off+n) (in no particular order). The ranking is a strict total order,
     * so the selected set is unique.
     */
    private static void selectTop(double[] v, int off, int[] order, int n, int k) {
        for (int j = 0; j < n; j++) order[j] = j;
        int lo = 0, hi = n - 1;
        while (lo < hi) {
            int mid = lo + (hi - lo) / 2;
            int pivot = order[mid];
            order[mid] = order[hi];
            order[hi] = pivot;
            int store = lo;
            for (int i = lo; i < hi; i++) {
                if (above(v, off, order[i], pivot)) {
                    int t = order[i];
                    order[i] = order[store];
                    order[store++] = t;
                }
            }
            order[hi] = order[store];
            order[store] = pivot;
            // order[lo..store) rank above the pivot, order(store..hi] below it
            if (store == k) return;
            if (store < k) lo = store + 1;
            else hi = store - 1;
        }
    }

    /** Merge-sorts order[0..k) by rank, highest first, using scratch (length >= k). */
    private static void sortByRank(double[] v, int off, int[] order, int[] scratch, int k) {
        for (int width = 1; width < k; width *= 2) {
            for (int lo = 0; lo < k - width; lo += 2 * width) {
                int mid = lo + width, hi = Math.min(lo + 2 * width, k);
                int i = lo, j = mid, o = lo;
                while (i < mid && j < hi) scratch[o++] = above(v, off, order[j], order[i]) ? order[j++] : order[i++];
                while (i < mid) scratch[o++] = order[i++];
                while (j < hi) scratch[o++] = order[j++];
                System.arraycopy(scratch, lo, order, lo, hi - lo);
            }
        }
    }
}
