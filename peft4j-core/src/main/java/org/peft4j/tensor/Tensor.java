package org.peft4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.autograd.Node;
import org.peft4j.ops.Elementwise;

/**
 * A dense n-dimensional array over a {@link MemorySegment}: heap arrays for values computed at run
 * time, memory-mapped files for weights. Shape and element strides make reshape, transpose, narrow and
 * expand free views. Values computed by ops are F32 (F64 in gradient checks); weights may be stored as
 * BF16 or F16 and are converted where they are read.
 *
 * <p>Autograd state lives here too: {@code requiresGrad}, the accumulated {@code grad} of a leaf, and
 * the node that produced a non-leaf.
 */
public final class Tensor {
    static final ValueLayout.OfFloat F32_LAYOUT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LAYOUT = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LAYOUT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64_LAYOUT = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LAYOUT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final MemorySegment data;
    private final long offset;
    private final int[] shape;
    private final long[] strides;

    private boolean requiresGrad;
    private Tensor grad;
    private Node gradFn;

    private Tensor(DType dtype, MemorySegment data, long offset, int[] shape, long[] strides) {
        this.dtype = dtype;
        this.data = data;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
    }

    // ---------------------------------------------------------------- factories

    /** Wraps storage without copying; {@code data} holds at least numel(shape) contiguous elements. */
    public static Tensor wrap(MemorySegment data, DType dtype, int... shape) {
        long n = numel(shape);
        if (data.byteSize() < n * dtype.byteSize()) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes cannot hold "
                    + Arrays.toString(shape) + " " + dtype);
        }
        return new Tensor(dtype, data, 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor of(float[] values, int... shape) {
        checkCount(values.length, shape);
        return new Tensor(DType.F32, MemorySegment.ofArray(values), 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor of(double[] values, int... shape) {
        checkCount(values.length, shape);
        return new Tensor(DType.F64, MemorySegment.ofArray(values), 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor of(long[] values, int... shape) {
        checkCount(values.length, shape);
        return new Tensor(DType.I64, MemorySegment.ofArray(values), 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor scalar(double value) { return of(new float[] {(float) value}); }

    public static Tensor zeros(int... shape) { return zeros(DType.F32, shape); }

    public static Tensor zeros(DType dtype, int... shape) {
        int n = Math.toIntExact(numel(shape));
        MemorySegment seg = switch (dtype) {
            case F32 -> MemorySegment.ofArray(new float[n]);
            case F64 -> MemorySegment.ofArray(new double[n]);
            case I64 -> MemorySegment.ofArray(new long[n]);
            case I32 -> MemorySegment.ofArray(new int[n]);
            case BF16, F16 -> MemorySegment.ofArray(new short[n]);
            case I8, U8, BOOL -> MemorySegment.ofArray(new byte[n]);
        };
        return new Tensor(dtype, seg, 0, shape.clone(), contiguousStrides(shape));
    }

    public static Tensor full(DType dtype, double value, int... shape) {
        Tensor t = zeros(dtype, shape);
        if (value != 0) for (long i = 0, n = t.numel(); i < n; i++) t.setStorage(i, value);
        return t;
    }

    public static Tensor ones(int... shape) { return full(DType.F32, 1.0, shape); }

    /** A new uninitialised-looking (zeroed) tensor of the same dtype as {@code like}, restricted to F32/F64. */
    public static Tensor zerosLike(Tensor like) { return zeros(like.computeType(), like.shape); }

    // ---------------------------------------------------------------- metadata

    public DType dtype() { return dtype; }

    public int[] shape() { return shape.clone(); }

    public int dim() { return shape.length; }

    /** Size of dimension d; negative d counts from the end. */
    public int size(int d) { return shape[axis(d)]; }

    public long[] strides() { return strides.clone(); }

    public long stride(int d) { return strides[axis(d)]; }

    /** Offset of the first element in the storage, in elements. */
    public long offset() { return offset; }

    /** The whole underlying storage (not just this view's window). */
    public MemorySegment segment() { return data; }

    public long numel() { return numel(shape); }

    /** F64 stays F64; every other floating type computes in F32. */
    public DType computeType() { return dtype == DType.F64 ? DType.F64 : DType.F32; }

    /** Normalises a possibly negative axis and checks its range. */
    public int axis(int d) {
        int a = d < 0 ? d + shape.length : d;
        if (a < 0 || a >= shape.length) {
            throw new IllegalArgumentException("axis " + d + " out of range for shape " + Arrays.toString(shape));
        }
        return a;
    }

    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    // ---------------------------------------------------------------- raw element access

    /** Reads storage element {@code index} (not a logical index) as a double. */
    public double getStorage(long index) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32_LAYOUT, index);
            case F64 -> data.getAtIndex(F64_LAYOUT, index);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(I16_LAYOUT, index) & 0xffff) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16_LAYOUT, index));
            case I64 -> data.getAtIndex(I64_LAYOUT, index);
            case I32 -> data.getAtIndex(I32_LAYOUT, index);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, index);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, index) & 0xff;
        };
    }

    /** Writes storage element {@code index}, rounding to the dtype (BF16 round-to-nearest-even). */
    public void setStorage(long index, double v) {
        switch (dtype) {
            case F32 -> data.setAtIndex(F32_LAYOUT, index, (float) v);
            case F64 -> data.setAtIndex(F64_LAYOUT, index, v);
            case BF16 -> data.setAtIndex(I16_LAYOUT, index, BFloat16.fromFloat((float) v));
            case F16 -> data.setAtIndex(I16_LAYOUT, index, Float.floatToFloat16((float) v));
            case I64 -> data.setAtIndex(I64_LAYOUT, index, (long) v);
            case I32 -> data.setAtIndex(I32_LAYOUT, index, (int) v);
            case I8, U8, BOOL -> data.set(ValueLayout.JAVA_BYTE, index, (byte) (long) v);
        }
    }

    /** Storage index of the element at logical row-major position {@code flat}. */
    public long storageIndex(long flat) {
        long idx = offset;
        for (int d = shape.length - 1; d >= 0; d--) {
            int s = shape[d];
            idx += (flat % s) * strides[d];
            flat /= s;
        }
        return idx;
    }

    /** Element at logical row-major position {@code flat}, as a double. */
    public double getFlat(long flat) { return getStorage(storageIndex(flat)); }

    public void setFlat(long flat, double v) { setStorage(storageIndex(flat), v); }

    public double get(int... index) { return getStorage(storageIndexOf(index)); }

    public void set(double v, int... index) { setStorage(storageIndexOf(index), v); }

    public long getLong(int... index) { return (long) getStorage(storageIndexOf(index)); }

    private long storageIndexOf(int[] index) {
        if (index.length != shape.length) {
            throw new IllegalArgumentException("index " + Arrays.toString(index) + " for shape " + Arrays.toString(shape));
        }
        long idx = offset;
        for (int d = 0; d < index.length; d++) {
            if (index[d] < 0 || index[d] >= shape[d]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " for shape " + Arrays.toString(shape));
            }
            idx += index[d] * strides[d];
        }
        return idx;
    }

    /** The single value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() on shape " + Arrays.toString(shape));
        return getStorage(offset);
    }

    /** A fresh row-major copy of the values as float. */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numel())];
        float[] arr = heapFloats();
        if (arr != null) return arr.clone();
        for (int i = 0; i < out.length; i++) out[i] = (float) getFlat(i);
        return out;
    }

    /** A fresh row-major copy of the values as double. */
    public double[] toDoubleArray() {
        double[] out = new double[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = getFlat(i);
        return out;
    }

    public long[] toLongArray() {
        long[] out = new long[Math.toIntExact(numel())];
        for (int i = 0; i < out.length; i++) out[i] = (long) getFlat(i);
        return out;
    }

    /**
     * The backing float[] when this is a contiguous F32 heap tensor starting at element 0 and covering
     * the whole array, else null. Kernels use it to run on plain arrays.
     */
    public float[] heapFloats() {
        if (dtype != DType.F32 || offset != 0 || !isContiguous()) return null;
        Object base = data.heapBase().orElse(null);
        return base instanceof float[] f && f.length == numel() ? f : null;
    }

    /** As {@link #heapFloats()} for F64. */
    public double[] heapDoubles() {
        if (dtype != DType.F64 || offset != 0 || !isContiguous()) return null;
        Object base = data.heapBase().orElse(null);
        return base instanceof double[] d && d.length == numel() ? d : null;
    }

    /** The values as a contiguous float[] owned by this tensor if possible, else a copy. Read-only use. */
    public float[] floats() {
        float[] arr = heapFloats();
        return arr != null ? arr : toFloatArray();
    }

    /** The values as a contiguous double[] owned by this tensor if possible, else a copy. Read-only use. */
    public double[] doubles() {
        double[] arr = heapDoubles();
        return arr != null ? arr : toDoubleArray();
    }

    // ---------------------------------------------------------------- copies and conversion

    /** This tensor if it is contiguous, else a contiguous copy (recorded for autograd). */
    public Tensor contiguous() {
        if (isContiguous() && offset == 0) return this;
        Tensor out = copyInto(Workspace.zeros(dtype, shape)); // an op's result: from the open workspace
        return Autograd.record(out, "contiguous", g -> new Tensor[] {g}, this);
    }

    /** A copy converted to {@code target} (recorded for autograd between floating types). */
    public Tensor to(DType target) {
        if (target == dtype && isContiguous() && offset == 0) return this;
        Tensor out = detachedCopy(target);
        if (!target.isFloating()) return out;
        DType source = computeType();
        return Autograd.record(out, "to", g -> new Tensor[] {g.detachedCopy(source)}, this);
    }

    /** A contiguous copy in {@code target} that shares nothing with this tensor and records nothing. */
    public Tensor detachedCopy(DType target) { return copyInto(zeros(target, shape)); }

    /** Writes this tensor's values into {@code out}, a fresh contiguous tensor of its shape; returns out. */
    private Tensor copyInto(Tensor out) {
        float[] dstF = out.heapFloats();
        Object base = data.heapBase().orElse(null);
        if (dtype == DType.F32 && dstF != null && base instanceof float[] src) {
            copyStridedF32(src, dstF);
        } else {
            long n = numel();
            for (long i = 0; i < n; i++) out.setStorage(i, getFlat(i));
        }
        return out;
    }

    /** Copies this F32 view from its backing array row by row (whole runs when the last stride is 1). */
    private void copyStridedF32(float[] src, float[] dst) {
        int inner = shape.length == 0 ? 1 : shape[shape.length - 1];
        long innerStride = shape.length == 0 ? 1 : strides[shape.length - 1];
        forEachRow((rowStart, o) -> {
            if (innerStride == 1) {
                System.arraycopy(src, (int) rowStart, dst, o, inner);
            } else {
                long k = rowStart;
                for (int j = 0; j < inner; j++, k += innerStride) dst[o + j] = src[(int) k];
            }
        });
    }

    /** Row visitor: storage index of a row's first element and that row's position in row-major order. */
    private interface RowVisitor {
        void visit(long rowStart, int logicalOffset);
    }

    /** Visits every innermost row of this view without per-element index arithmetic. */
    private void forEachRow(RowVisitor v) {
        int rank = shape.length;
        long n = numel();
        if (n == 0) return;
        if (rank == 0) {
            v.visit(offset, 0);
            return;
        }
        int inner = shape[rank - 1];
        int rows = (int) (n / inner);
        int[] idx = new int[rank];
        long rowStart = offset;
        for (int r = 0, o = 0; r < rows; r++, o += inner) {
            v.visit(rowStart, o);
            for (int d = rank - 2; d >= 0; d--) {
                rowStart += strides[d];
                if (++idx[d] < shape[d]) break;
                rowStart -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /** Copies the values of {@code src} (same shape or broadcastable to it) into this tensor; records nothing. */
    public Tensor copyFrom(Tensor src) {
        Tensor s = Arrays.equals(src.shape, shape) ? src : src.detach().expand(shape);
        float[] from = s.heapFloats();
        Object base = data.heapBase().orElse(null);
        if (dtype == DType.F32 && from != null && base instanceof float[] to) {
            int inner = shape.length == 0 ? 1 : shape[shape.length - 1];
            long innerStride = shape.length == 0 ? 1 : strides[shape.length - 1];
            forEachRow((rowStart, o) -> {
                if (innerStride == 1) {
                    System.arraycopy(from, o, to, (int) rowStart, inner);
                } else {
                    long k = rowStart;
                    for (int j = 0; j < inner; j++, k += innerStride) to[(int) k] = from[o + j];
                }
            });
            return this;
        }
        for (long i = 0, n = numel(); i < n; i++) setFlat(i, s.getFlat(i));
        return this;
    }

    /** A tensor sharing storage with this one but outside the graph. */
    public Tensor detach() { return new Tensor(dtype, data, offset, shape, strides); }

    // ---------------------------------------------------------------- views (recorded for autograd)

    /** A view (or a copy if the layout does not allow one) with a new shape; one entry may be -1. */
    public Tensor reshape(int... newShape) {
        int[] target = inferShape(newShape, numel());
        if (Arrays.equals(target, shape)) return this;
        Tensor base = isContiguous() ? this : contiguous();
        Tensor out = new Tensor(dtype, base.data, base.offset, target, contiguousStrides(target));
        int[] original = shape.clone();
        return Autograd.record(out, "reshape", g -> new Tensor[] {g.reshape(original)}, base);
    }

    public Tensor view(int... newShape) { return reshape(newShape); }

    /** Swaps two dimensions (a view). */
    public Tensor transpose(int d0, int d1) {
        int a = axis(d0), b = axis(d1);
        if (a == b) return this;
        int[] s = shape.clone();
        long[] st = strides.clone();
        s[a] = shape[b];
        s[b] = shape[a];
        st[a] = strides[b];
        st[b] = strides[a];
        Tensor out = new Tensor(dtype, data, offset, s, st);
        return Autograd.record(out, "transpose", g -> new Tensor[] {g.transpose(a, b)}, this);
    }

    /** Reorders dimensions (a view): result dim i is this tensor's dim {@code order[i]}. */
    public Tensor permute(int... order) {
        if (order.length != shape.length) throw new IllegalArgumentException("permute " + Arrays.toString(order)
                + " for shape " + Arrays.toString(shape));
        int[] s = new int[order.length];
        long[] st = new long[order.length];
        int[] inverse = new int[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int a = axis(order[i]);
            if (seen[a]) throw new IllegalArgumentException("permute repeats axis " + a);
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
            inverse[a] = i;
        }
        Tensor out = new Tensor(dtype, data, offset, s, st);
        return Autograd.record(out, "permute", g -> new Tensor[] {g.permute(inverse)}, this);
    }

    /** Elements {@code start .. start+length-1} along dimension d (a view). */
    public Tensor narrow(int d, int start, int length) {
        int a = axis(d);
        if (start < 0 || length < 0 || start + length > shape[a]) {
            throw new IndexOutOfBoundsException("narrow(" + d + ", " + start + ", " + length + ") on shape "
                    + Arrays.toString(shape));
        }
        int[] s = shape.clone();
        s[a] = length;
        Tensor out = new Tensor(dtype, data, offset + start * strides[a], s, strides);
        int[] full = shape.clone();
        return Autograd.record(out, "narrow", g -> {
            Tensor gi = zeros(g.computeType(), full);
            gi.detach().narrowView(a, start, length).copyFrom(g);
            return new Tensor[] {gi};
        }, this);
    }

    /** Index i along dimension d, dropping that dimension (a view). */
    public Tensor select(int d, int i) {
        int a = axis(d);
        Tensor n = narrow(a, i, 1);
        int[] s = new int[shape.length - 1];
        for (int k = 0, j = 0; k < shape.length; k++) if (k != a) s[j++] = shape[k];
        return n.reshape(s);
    }

    /** Broadcasts size-1 dimensions (and new leading ones) to {@code target} without copying. */
    public Tensor expand(int... target) {
        if (Arrays.equals(target, shape)) return this;
        if (target.length < shape.length) {
            throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to " + Arrays.toString(target));
        }
        int lead = target.length - shape.length;
        long[] st = new long[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) {
                st[i] = 0;
            } else {
                int s = shape[i - lead];
                if (s == target[i]) st[i] = strides[i - lead];
                else if (s == 1) st[i] = 0;
                else throw new IllegalArgumentException("cannot expand " + Arrays.toString(shape) + " to "
                        + Arrays.toString(target));
            }
        }
        Tensor out = new Tensor(dtype, data, offset, target.clone(), st);
        int[] original = shape.clone();
        return Autograd.record(out, "expand", g -> new Tensor[] {Elementwise.sumToShape(g, original)}, this);
    }

    /** Inserts a size-1 dimension at d. */
    public Tensor unsqueeze(int d) {
        int a = d < 0 ? d + shape.length + 1 : d;
        int[] s = new int[shape.length + 1];
        for (int i = 0, j = 0; i < s.length; i++) s[i] = i == a ? 1 : shape[j++];
        return reshape(s);
    }

    /** Raw narrow that never records; for writing into a window of a fresh tensor. */
    public Tensor narrowView(int d, int start, int length) {
        int a = axis(d);
        int[] s = shape.clone();
        s[a] = length;
        return new Tensor(dtype, data, offset + start * strides[a], s, strides);
    }

    // ---------------------------------------------------------------- autograd state

    public boolean requiresGrad() { return requiresGrad; }

    /** Marks a leaf as trainable (or frozen). Only leaves may be changed. */
    public Tensor requiresGrad(boolean value) {
        if (gradFn != null) throw new IllegalStateException("requiresGrad can only be set on leaf tensors");
        if (value && !dtype.isFloating()) throw new IllegalStateException("only floating tensors can require gradients");
        this.requiresGrad = value;
        return this;
    }

    /** The gradient accumulated by backward calls, or null. */
    public Tensor grad() { return grad; }

    public void zeroGrad() { grad = null; }

    public Node gradFn() { return gradFn; }

    public boolean isLeaf() { return gradFn == null; }

    /** Called by {@link Autograd#record}. */
    public void attachGradFn(Node node) {
        this.gradFn = node;
        this.requiresGrad = true;
    }

    /** Adds {@code g} into this leaf's gradient (in place after the first call). */
    public void accumulateGrad(Tensor g) {
        if (grad == null) {
            grad = g.detachedCopy(computeType());
        } else {
            Elementwise.addInPlace(grad, g);
        }
    }

    /** Runs backward from this scalar. */
    public void backward() { Autograd.backward(this); }

    // ---------------------------------------------------------------- helpers

    public static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= s;
        }
        return n;
    }

    public static long[] contiguousStrides(int[] shape) {
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    private static void checkCount(int count, int[] shape) {
        if (count != numel(shape)) {
            throw new IllegalArgumentException(count + " values for shape " + Arrays.toString(shape));
        }
    }

    private static int[] inferShape(int[] spec, long numel) {
        int[] out = spec.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("more than one -1 in " + Arrays.toString(spec));
                infer = i;
            } else {
                known *= out[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new IllegalArgumentException("cannot reshape " + numel + " elements to " + Arrays.toString(spec));
            }
            out[infer] = (int) (numel / known);
        } else if (known != numel) {
            throw new IllegalArgumentException("cannot reshape " + numel + " elements to " + Arrays.toString(spec));
        }
        return out;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor(").append(dtype).append(Arrays.toString(shape));
        long n = Math.min(numel(), 8);
        sb.append(" [");
        for (long i = 0; i < n; i++) sb.append(i > 0 ? ", " : "").append((float) getFlat(i));
        if (numel() > n) sb.append(", ...");
        sb.append("]");
        if (requiresGrad) sb.append(gradFn != null ? " grad_fn=" + gradFn.op() : " requires_grad");
        return sb.append(')').toString();
    }
}
