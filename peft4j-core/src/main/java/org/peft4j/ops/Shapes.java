package org.peft4j.ops;

import java.util.Arrays;
import java.util.List;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * Joining and cutting tensors along an axis: concat, split, chunk, stack.
 *
 * <p>Every layout reduces to the same picture: with {@code outer} = product of the sizes before the
 * axis and {@code inner} = product of the sizes after it, each part is {@code outer} contiguous runs
 * of {@code size(axis) * inner} elements, and joining interleaves those runs. The copies are
 * {@link System#arraycopy} calls on float[] (F32) or double[] (F64) arrays.
 *
 * <p>Also holds the package's array helpers ({@link #values}, {@link #wrap}, {@link #resultType}) that
 * the other ops in this package use to read inputs of any layout and dtype.
 */
public final class Shapes {
    private Shapes() {}

    /** Concatenates tensors that agree in every dimension except {@code axis} (may be negative). */
    public static Tensor concat(int axis, Tensor... parts) {
        Tensor[] ps = parts.clone();
        if (ps.length == 0) throw new IllegalArgumentException("concat needs at least one tensor");
        int[] shape = ps[0].shape();
        int a = ps[0].axis(axis);
        int total = 0;
        for (int p = 0; p < ps.length; p++) {
            int[] s = ps[p].shape();
            if (!sameExcept(s, shape, a)) {
                throw new IllegalArgumentException("concat along axis " + axis + ": part " + p + " has shape "
                        + Arrays.toString(s) + ", which does not match part 0's " + Arrays.toString(shape)
                        + " outside that axis");
            }
            total += s[a];
        }
        if (Arrays.stream(ps).noneMatch(t -> t.dtype().isFloating())) return concatIndices(a, ps, shape, total);
        int outer = product(shape, 0, a), inner = product(shape, a + 1, shape.length);
        int[] runs = new int[ps.length];
        for (int p = 0; p < ps.length; p++) runs[p] = ps[p].size(a) * inner;
        DType type = resultType(ps);
        Object[] sources = new Object[ps.length];
        for (int p = 0; p < ps.length; p++) sources[p] = values(ps[p], type);
        int[] outShape = shape.clone();
        outShape[a] = total;
        Tensor out = wrap(interleave(sources, runs, outer, type), outShape);
        int rowLength = total * inner;
        int[][] shapes = wantedShapes(ps);
        return Autograd.record(out, "concat", g -> {
            Object gv = values(g, g.computeType());
            Tensor[] grads = new Tensor[shapes.length];
            for (int p = 0, start = 0; p < shapes.length; start += runs[p], p++) {
                if (shapes[p] != null) grads[p] = wrap(extract(gv, outer, rowLength, start, runs[p]), shapes[p]);
            }
            return grads;
        }, ps);
    }

    /** Integer tensors (ids, masks, labels) stay I64; they never carry gradients. */
    private static Tensor concatIndices(int a, Tensor[] ps, int[] shape, int total) {
        int[] outShape = shape.clone();
        outShape[a] = total;
        Tensor out = Tensor.zeros(DType.I64, outShape);
        int at = 0;
        for (Tensor p : ps) {
            out.narrowView(a, at, p.size(a)).copyFrom(p);
            at += p.size(a);
        }
        return out;
    }

    /** {@link #concat(int, Tensor...)} over a list. */
    public static Tensor concat(int axis, List<Tensor> parts) { return concat(axis, parts.toArray(Tensor[]::new)); }

    /**
     * Cuts {@code x} along {@code axis} into consecutive pieces of the given sizes, which must add up to
     * the axis size. The pieces are views of {@code x}; each one's gradient flows back into its window.
     */
    public static Tensor[] split(Tensor x, int axis, int... sizes) {
        int a = x.axis(axis);
        int[] shape = x.shape();
        int sum = 0;
        for (int s : sizes) {
            if (s < 0) throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " contain a negative size");
            sum += s;
        }
        if (sum != shape[a]) {
            throw new IllegalArgumentException("split sizes " + Arrays.toString(sizes) + " add up to " + sum
                    + ", but axis " + axis + " of shape " + Arrays.toString(shape) + " has size " + shape[a]);
        }
        Tensor[] pieces = new Tensor[sizes.length];
        for (int i = 0, start = 0; i < sizes.length; start += sizes[i], i++) pieces[i] = piece(x, a, start, sizes[i]);
        return pieces;
    }

    /**
     * Splits {@code x} along {@code axis} into pieces of ceil(size / n) elements, the last one possibly
     * smaller (so there may be fewer than n pieces), as torch.chunk does.
     */
    public static Tensor[] chunk(Tensor x, int axis, int n) {
        if (n < 1) throw new IllegalArgumentException("chunk count must be at least 1, got " + n);
        int size = x.size(axis);
        if (size == 0) {
            int[] sizes = new int[n];
            return split(x, axis, sizes);
        }
        int step = (size + n - 1) / n;
        int count = (size + step - 1) / step;
        int[] sizes = new int[count];
        for (int i = 0; i < count; i++) sizes[i] = Math.min(step, size - i * step);
        return split(x, axis, sizes);
    }

    /** Stacks tensors of one shape along a new axis at position {@code axis} (in [-rank-1, rank]). */
    public static Tensor stack(int axis, Tensor... parts) {
        Tensor[] ps = parts.clone();
        if (ps.length == 0) throw new IllegalArgumentException("stack needs at least one tensor");
        int[] shape = ps[0].shape();
        int a = axis < 0 ? axis + shape.length + 1 : axis;
        if (a < 0 || a > shape.length) {
            throw new IllegalArgumentException("stack axis " + axis + " out of range for parts of shape " + Arrays.toString(shape));
        }
        for (int p = 1; p < ps.length; p++) {
            if (!Arrays.equals(ps[p].shape(), shape)) {
                throw new IllegalArgumentException("stack: part " + p + " has shape " + Arrays.toString(ps[p].shape())
                        + " but part 0 has " + Arrays.toString(shape));
            }
        }
        int outer = product(shape, 0, a), inner = product(shape, a, shape.length);
        int[] runs = new int[ps.length];
        Arrays.fill(runs, inner);
        DType type = resultType(ps);
        Object[] sources = new Object[ps.length];
        for (int p = 0; p < ps.length; p++) sources[p] = values(ps[p], type);
        int[] outShape = new int[shape.length + 1];
        for (int i = 0, j = 0; i < outShape.length; i++) outShape[i] = i == a ? ps.length : shape[j++];
        Tensor out = wrap(interleave(sources, runs, outer, type), outShape);
        int rowLength = ps.length * inner;
        int[][] shapes = wantedShapes(ps);
        return Autograd.record(out, "stack", g -> {
            Object gv = values(g, g.computeType());
            Tensor[] grads = new Tensor[shapes.length];
            for (int p = 0; p < shapes.length; p++) {
                if (shapes[p] != null) grads[p] = wrap(extract(gv, outer, rowLength, p * inner, inner), shape);
            }
            return grads;
        }, ps);
    }

    /** {@link #stack(int, Tensor...)} over a list. */
    public static Tensor stack(int axis, List<Tensor> parts) { return stack(axis, parts.toArray(Tensor[]::new)); }

    /**
     * Each part's shape where it requires a gradient, else null: what concat and stack backward need,
     * without holding the parts themselves.
     */
    private static int[][] wantedShapes(Tensor[] ps) {
        int[][] shapes = new int[ps.length][];
        for (int p = 0; p < ps.length; p++) if (ps[p].requiresGrad()) shapes[p] = ps[p].shape();
        return shapes;
    }

    /** The view x[..., start:start+length, ...] along axis a, whose backward writes runs into a zero gradient. */
    private static Tensor piece(Tensor x, int a, int start, int length) {
        int[] shape = x.shape();
        Tensor view = x.detach().narrowView(a, start, length);
        int outer = product(shape, 0, a), inner = product(shape, a + 1, shape.length);
        int numel = Math.toIntExact(x.numel());
        return Autograd.record(view, "split", g -> {
            Object gv = values(g, g.computeType());
            Object gx = newArray(g.computeType(), numel);
            int run = length * inner, rowLength = shape[a] * inner;
            for (int o = 0; o < outer; o++) System.arraycopy(gv, o * run, gx, o * rowLength + start * inner, run);
            return new Tensor[] {wrap(gx, shape)};
        }, x);
    }

    /** For each of {@code outer} rows, copies run o of every source one after another. */
    private static Object interleave(Object[] sources, int[] runs, int outer, DType type) {
        int rowLength = 0;
        for (int r : runs) rowLength += r;
        Object out = newArray(type, Math.multiplyExact(outer, rowLength));
        for (int o = 0; o < outer; o++) {
            int pos = o * rowLength;
            for (int p = 0; p < sources.length; p++) {
                System.arraycopy(sources[p], o * runs[p], out, pos, runs[p]);
                pos += runs[p];
            }
        }
        return out;
    }

    /** The inverse of interleave for one source: elements [start, start+length) of each row. */
    private static Object extract(Object source, int outer, int rowLength, int start, int length) {
        Object out = newArray(source instanceof float[] ? DType.F32 : DType.F64, outer * length);
        for (int o = 0; o < outer; o++) System.arraycopy(source, o * rowLength + start, out, o * length, length);
        return out;
    }

    private static boolean sameExcept(int[] s, int[] shape, int axis) {
        if (s.length != shape.length) return false;
        for (int d = 0; d < s.length; d++) if (d != axis && s[d] != shape[d]) return false;
        return true;
    }

    private static int product(int[] shape, int from, int to) {
        long p = 1;
        for (int d = from; d < to; d++) p *= shape[d];
        return Math.toIntExact(p);
    }

    // ---------------------------------------------------------------- array helpers for this package

    /** F64 when any input is F64, else F32: the dtype of an op's result. */
    static DType resultType(Tensor... inputs) {
        for (Tensor t : inputs) if (t.dtype() == DType.F64) return DType.F64;
        return DType.F32;
    }

    /** A zeroed float[] (F32, from the open {@link Workspace}) or double[] (F64) for an op's result. */
    static Object newArray(DType type, int length) {
        return type == DType.F64 ? new double[length] : Workspace.floats(length);
    }

    /** A contiguous heap tensor over a float[] or double[] (no copy). */
    static Tensor wrap(Object array, int... shape) {
        return array instanceof float[] f ? Tensor.of(f, shape) : Tensor.of((double[]) array, shape);
    }

    static float[] floats(Tensor t) { return (float[]) values(t, DType.F32); }

    static double[] doubles(Tensor t) { return (double[]) values(t, DType.F64); }

    /**
     * The values of {@code t} in row-major order as a float[] ({@code type} F32) or double[] (F64), of
     * any source dtype and layout. Returns t's own backing array when it already is one: read only.
     */
    static Object values(Tensor t, DType type) {
        Object own = type == DType.F64 ? t.heapDoubles() : t.heapFloats();
        if (own != null) return own;
        Object out = newArray(type, Math.toIntExact(t.numel()));
        copyStrided(t, out);
        return out;
    }

    /**
     * Walks t's elements in row-major order (an odometer over all but the last dimension, a strided
     * loop over the last) into {@code dst}. Reads the backing array directly when t is a heap tensor of
     * dst's element type, else goes through the generic accessor.
     */
    private static void copyStrided(Tensor t, Object dst) {
        int n = Math.toIntExact(t.numel());
        if (n == 0) return;
        int[] shape = t.shape();
        long[] strides = t.strides();
        int rank = shape.length;
        Object base = t.segment().address() == 0 ? t.segment().heapBase().orElse(null) : null;
        float[] fsrc = base instanceof float[] f && t.dtype() == DType.F32 && dst instanceof float[] ? f : null;
        double[] dsrc = base instanceof double[] d && t.dtype() == DType.F64 && dst instanceof double[] ? d : null;
        float[] fdst = dst instanceof float[] f ? f : null;
        double[] ddst = dst instanceof double[] d ? d : null;
        if (rank == 0) {
            if (fdst != null) fdst[0] = (float) t.getStorage(t.offset());
            else ddst[0] = t.getStorage(t.offset());
            return;
        }
        if (t.isContiguous() && (fsrc != null || dsrc != null)) {
            System.arraycopy(fsrc != null ? fsrc : dsrc, Math.toIntExact(t.offset()), dst, 0, n);
            return;
        }
        int inner = shape[rank - 1];
        long step = strides[rank - 1];
        int[] pos = new int[rank - 1];
        long start = t.offset();
        for (int k = 0; k < n; k += inner) {
            if (fsrc != null) {
                for (int j = 0; j < inner; j++) fdst[k + j] = fsrc[(int) (start + j * step)];
            } else if (dsrc != null) {
                for (int j = 0; j < inner; j++) ddst[k + j] = dsrc[(int) (start + j * step)];
            } else if (fdst != null) {
                for (int j = 0; j < inner; j++) fdst[k + j] = (float) t.getStorage(start + j * step);
            } else {
                for (int j = 0; j < inner; j++) ddst[k + j] = t.getStorage(start + j * step);
            }
            for (int d = rank - 2; d >= 0; d--) {
                start += strides[d];
                if (++pos[d] < shape[d]) break;
                start -= strides[d] * shape[d];
                pos[d] = 0;
            }
        }
    }
}
