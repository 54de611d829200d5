package org.peft4j.tensor.kernels;

import static org.peft4j.tensor.kernels.GemmKernel.MR;
import static org.peft4j.tensor.kernels.GemmKernel.NR;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;

/**
 * A read-only matrix that {@link Gemm} multiplies: {@code rows × cols} elements at
 * {@code offset + i·rowStride + j·colStride} of some storage. Row-major, transposed (column-major)
 * and any other strided layout are all just strides, so a transposed view costs nothing: the packing
 * step reads it in whichever direction is contiguous.
 *
 * <p>Storage is a heap {@code float[]} or a {@link MemorySegment} of F32, BF16 or F16 (for example a
 * memory-mapped weight). Half-precision values are widened to float while a panel is packed, so a
 * frozen BF16 weight is never copied whole into float32.
 */
public abstract sealed class GemmOperand
        permits GemmOperand.HeapF32, GemmOperand.SegmentF32, GemmOperand.SegmentBF16, GemmOperand.SegmentF16 {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Rows of a B sliver written per pass over its columns when B is transposed. */
    private static final int PACK_BAND = 64;
    /**
     * Columns of a transposed A read into scratch before they are dealt out to the slivers, so the
     * strided reads of several columns are in flight together (about 5% on a transposed A).
     */
    static final int COLUMN_GROUP = 8;

    final int rows;
    final int cols;
    final long offset;
    final long rowStride;
    final long colStride;

    GemmOperand(int rows, int cols, long offset, long rowStride, long colStride, long capacity, String what) {
        if (rows < 0 || cols < 0 || offset < 0 || rowStride < 0 || colStride < 0) {
            throw new IllegalArgumentException(what + ": negative size, offset or stride (rows " + rows + ", cols "
                    + cols + ", offset " + offset + ", strides " + rowStride + "/" + colStride + ")");
        }
        if (rows > 0 && cols > 0) {
            long last = offset + (rows - 1) * rowStride + (cols - 1) * colStride;
            if (last >= capacity) {
                throw new IllegalArgumentException(what + ": " + rows + "×" + cols + " matrix at offset " + offset
                        + " with strides " + rowStride + "/" + colStride + " reaches element " + last
                        + " but the storage holds " + capacity);
            }
        }
        this.rows = rows;
        this.cols = cols;
        this.offset = offset;
        this.rowStride = rowStride;
        this.colStride = colStride;
    }

    /** A {@code rows × cols} matrix in {@code data} at {@code offset + i·rowStride + j·colStride}. */
    public static GemmOperand ofArray(float[] data, int offset, int rows, int cols, int rowStride, int colStride) {
        return new HeapF32(data, rows, cols, offset, rowStride, colStride);
    }

    /**
     * A {@code rows × cols} matrix of {@code dtype} (F32, BF16 or F16, little-endian) in {@code segment},
     * element (i, j) at element index {@code offset + i·rowStride + j·colStride}.
     */
    public static GemmOperand ofSegment(MemorySegment segment, DType dtype, long offset, int rows, int cols,
                                        long rowStride, long colStride) {
        long capacity = segment.byteSize() / dtype.byteSize();
        return switch (dtype) {
            case F32 -> new SegmentF32(segment, rows, cols, offset, rowStride, colStride, capacity);
            case BF16 -> new SegmentBF16(segment, rows, cols, offset, rowStride, colStride, capacity);
            case F16 -> new SegmentF16(segment, rows, cols, offset, rowStride, colStride, capacity);
            default -> throw new IllegalArgumentException("GEMM reads F32, BF16 or F16 storage, got " + dtype);
        };
    }

    /** The 2-D tensor (any strides, F32/BF16/F16 storage) as an operand, without copying it. */
    public static GemmOperand of(Tensor t) {
        if (t.dim() != 2) {
            throw new IllegalArgumentException("GEMM operand must be 2-D, got shape " + java.util.Arrays.toString(t.shape()));
        }
        return of(t, t.offset(), t.size(0), t.size(1), t.stride(0), t.stride(1));
    }

    /**
     * A {@code rows × cols} matrix inside the storage of {@code t} (whatever t's own shape), element
     * (i, j) at storage element {@code offset + i·rowStride + j·colStride}; used to address one matrix of
     * a batch without building a view.
     */
    public static GemmOperand of(Tensor t, long offset, int rows, int cols, long rowStride, long colStride) {
        MemorySegment seg = t.segment();
        if (t.dtype() == DType.F32 && seg.heapBase().orElse(null) instanceof float[] arr
                && seg.byteSize() == 4L * arr.length) {
            return new HeapF32(arr, rows, cols, offset, rowStride, colStride);
        }
        return ofSegment(seg, t.dtype(), offset, rows, cols, rowStride, colStride);
    }

    public int rows() { return rows; }

    public int cols() { return cols; }

    /** The transpose, sharing the storage. */
    public abstract GemmOperand transpose();

    /**
     * Copies {@code count} elements starting at storage element {@code start}, {@code stride} apart, into
     * {@code dst[dstOff + c·dstStride]} as float. The packing loops call this once per run of elements,
     * so the storage-specific conversion stays out of their inner loop.
     */
    abstract void readRun(long start, long stride, int count, float[] dst, int dstOff, int dstStride);

    /**
     * Packs rows {@code row0 .. row0+rows-1} and columns {@code col0 .. col0+kc-1} as A slivers of
     * {@code MR} rows: sliver s starts at {@code dst[s·MR·kc]} and holds {@code this(row0 + s·MR + r,
     * col0 + p)} at {@code p·MR + r}; rows past the end are zero. {@code scratch} holds at least
     * {@code rows · COLUMN_GROUP} floats.
     */
    final void packA(float[] dst, int row0, int rows, int col0, int kc, float[] scratch) {
        int full = rows / MR, tail = rows % MR;
        long base = offset + row0 * rowStride + col0 * colStride;
        if (colStride <= rowStride || rows == 1) {
            // Rows are the contiguous direction: stream each row into its lane of the sliver.
            for (int i = 0; i < rows; i++) {
                readRun(base + i * rowStride, colStride, kc, dst, (i / MR) * MR * kc + i % MR, MR);
            }
        } else {
            // Columns are contiguous (a transposed A): read a group of columns once, then deal them out
            // to the slivers MR values at a time (a constant trip count, so the copy is fully unrolled).
            int sliverSize = MR * kc;
            for (int p0 = 0; p0 < kc; p0 += COLUMN_GROUP) {
                int group = Math.min(COLUMN_GROUP, kc - p0);
                for (int q = 0; q < group; q++) readRun(base + (p0 + q) * colStride, rowStride, rows, scratch, q * rows, 1);
                for (int q = 0; q < group; q++) {
                    int d = (p0 + q) * MR, i = q * rows;
                    for (int s = 0; s < full; s++, d += sliverSize, i += MR) {
                        for (int r = 0; r < MR; r++) dst[d + r] = scratch[i + r];
                    }
                    for (int r = 0; r < tail; r++) dst[d + r] = scratch[i + r];
                }
            }
        }
        if (tail != 0) {
            int d = full * MR * kc;
            for (int p = 0; p < kc; p++) {
                for (int r = tail; r < MR; r++) dst[d + p * MR + r] = 0f;
            }
        }
    }

    /**
     * Packs rows {@code row0 .. row0+kc-1} and columns {@code col0 .. col0+count-1} (count ≤ NR) as one
     * B sliver: {@code dst[dstOff + p·NR + c] = this(row0 + p, col0 + c)}, columns past count zero.
     */
    final void packB(float[] dst, int dstOff, int row0, int kc, int col0, int count) {
        long base = offset + row0 * rowStride + col0 * colStride;
        if (colStride <= rowStride && count > 1) {
            for (int p = 0; p < kc; p++) {
                int d = dstOff + p * NR;
                readRun(base + p * rowStride, colStride, count, dst, d, 1);
                for (int c = count; c < NR; c++) dst[d + c] = 0f;
            }
        } else {
            // A transposed B (an nn.Linear weight): each column is contiguous. Go in bands of rows so the
            // band of the sliver being written (PACK_BAND·NR floats) stays in L1 while every column passes.
            for (int p0 = 0; p0 < kc; p0 += PACK_BAND) {
                int band = Math.min(PACK_BAND, kc - p0);
                for (int c = 0; c < count; c++) {
                    readRun(base + c * colStride + p0 * rowStride, rowStride, band, dst, dstOff + p0 * NR + c, NR);
                }
            }
            if (count < NR) {
                for (int p = 0; p < kc; p++) {
                    for (int c = count; c < NR; c++) dst[dstOff + p * NR + c] = 0f;
                }
            }
        }
    }

    /** A float32 array on the heap. */
    static final class HeapF32 extends GemmOperand {
        private final float[] data;

        HeapF32(float[] data, int rows, int cols, long offset, long rowStride, long colStride) {
            super(rows, cols, offset, rowStride, colStride, data.length, "float[] operand");
            this.data = data;
        }

        @Override
        public GemmOperand transpose() { return new HeapF32(data, cols, rows, offset, colStride, rowStride); }

        @Override
        void readRun(long start, long stride, int count, float[] dst, int dstOff, int dstStride) {
            int s = (int) start;
            if (stride == 1 && dstStride == 1) {
                int c = 0;
                for (int bound = S.loopBound(count); c < bound; c += S.length()) {
                    FloatVector.fromArray(S, data, s + c).intoArray(dst, dstOff + c);
                }
                for (; c < count; c++) dst[dstOff + c] = data[s + c];
            } else if (stride == 1) {
                for (int c = 0, d = dstOff; c < count; c++, d += dstStride) dst[d] = data[s + c];
            } else {
                int st = (int) stride;
                for (int c = 0, d = dstOff; c < count; c++, d += dstStride, s += st) dst[d] = data[s];
            }
        }
    }

    /** Little-endian float32 in a memory segment. */
    static final class SegmentF32 extends GemmOperand {
        private final MemorySegment data;
        private final long capacity;

        SegmentF32(MemorySegment data, int rows, int cols, long offset, long rowStride, long colStride, long capacity) {
            super(rows, cols, offset, rowStride, colStride, capacity, "F32 segment operand");
            this.data = data;
            this.capacity = capacity;
        }

        @Override
        public GemmOperand transpose() {
            return new SegmentF32(data, cols, rows, offset, colStride, rowStride, capacity);
        }

        @Override
        void readRun(long start, long stride, int count, float[] dst, int dstOff, int dstStride) {
            if (stride == 1 && dstStride == 1) {
                int c = 0;
                for (int bound = S.loopBound(count); c < bound; c += S.length()) {
                    FloatVector.fromMemorySegment(S, data, (start + c) * 4, ByteOrder.LITTLE_ENDIAN).intoArray(dst, dstOff + c);
                }
                for (; c < count; c++) dst[dstOff + c] = data.getAtIndex(F32, start + c);
            } else {
                long s = start;
                for (int c = 0, d = dstOff; c < count; c++, d += dstStride, s += stride) dst[d] = data.getAtIndex(F32, s);
            }
        }
    }

    /** Little-endian bfloat16 in a memory segment: a float is its bits shifted up by 16. */
    static final class SegmentBF16 extends GemmOperand {
        private final MemorySegment data;
        private final long capacity;

        SegmentBF16(MemorySegment data, int rows, int cols, long offset, long rowStride, long colStride, long capacity) {
            super(rows, cols, offset, rowStride, colStride, capacity, "BF16 segment operand");
            this.data = data;
            this.capacity = capacity;
        }

        @Override
        public GemmOperand transpose() {
            return new SegmentBF16(data, cols, rows, offset, colStride, rowStride, capacity);
        }

        @Override
        void readRun(long start, long stride, int count, float[] dst, int dstOff, int dstStride) {
            long s = start;
            for (int c = 0, d = dstOff; c < count; c++, d += dstStride, s += stride) {
                dst[d] = Float.intBitsToFloat(data.getAtIndex(I16, s) << 16);
            }
        }
    }

    /** Little-endian IEEE half precision in a memory segment. */
    static final class SegmentF16 extends GemmOperand {
        private final MemorySegment data;
        private final long capacity;

        SegmentF16(MemorySegment data, int rows, int cols, long offset, long rowStride, long colStride, long capacity) {
            super(rows, cols, offset, rowStride, colStride, capacity, "F16 segment operand");
            this.data = data;
            this.capacity = capacity;
        }

        @Override
        public GemmOperand transpose() {
            return new SegmentF16(data, cols, rows, offset, colStride, rowStride, capacity);
        }

        @Override
        void readRun(long start, long stride, int count, float[] dst, int dstOff, int dstStride) {
            long s = start;
            for (int c = 0, d = dstOff; c < count; c++, d += dstStride, s += stride) {
                dst[d] = Float.float16ToFloat(data.getAtIndex(I16, s));
            }
        }
    }
}
