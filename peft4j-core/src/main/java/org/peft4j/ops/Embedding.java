package org.peft4j.ops;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/** Embedding lookup: rows of a [V, H] table picked by token ids. */
public final class Embedding {
    private static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Output elements one worker copies at least. */
    private static final int GRAIN_ELEMENTS = 1 << 15;

    private Embedding() {}

    /**
     * {@code out[..., :] = weight[ids[...], :]}: weight [V, H] of any floating dtype and layout (a
     * memory-mapped BF16/F16/F32 table is read row by row, never converted as a whole), ids I64 or I32
     * of any shape; the result is [..., H], F64 if the weight is F64, else F32. When the weight
     * requires a gradient, backward scatter-adds the output gradient into a dense [V, H] gradient
     * (repeated ids accumulate); a frozen table records nothing.
     */
    public static Tensor lookup(Tensor weight, Tensor ids) {
        if (weight.dim() != 2 || !weight.dtype().isFloating()) {
            throw new IllegalArgumentException("embedding weight must be a floating [V, H] table, got "
                    + weight.dtype() + Arrays.toString(weight.shape()));
        }
        int vocab = weight.size(0), hidden = weight.size(1);
        long[] idv = Indexing.indexValues(ids, "embedding ids");
        int[] idShape = ids.shape();
        for (int t = 0; t < idv.length; t++) {
            if (idv[t] < 0 || idv[t] >= vocab) {
                throw new IndexOutOfBoundsException("embedding id " + idv[t] + " at position "
                        + Arrays.toString(unravel(t, idShape)) + " of ids " + Arrays.toString(idShape)
                        + " is out of range for a table of V = " + vocab + " rows");
            }
        }
        int tokens = idv.length;
        int[] outShape = Arrays.copyOf(idShape, idShape.length + 1);
        outShape[idShape.length] = hidden;
        DType type = weight.computeType();
        Tensor out = Workspace.zeros(type, outShape);
        int grain = Math.max(1, GRAIN_ELEMENTS / Math.max(1, hidden));
        if (type == DType.F32) {
            float[] o = out.heapFloats();
            Parallel.forRange(tokens, grain, (start, end) -> {
                for (int t = start; t < end; t++) readRow(weight, idv[t], o, t * hidden, hidden);
            });
        } else {
            double[] o = out.heapDoubles();
            long step = weight.stride(1);
            for (int t = 0; t < tokens; t++) {
                long row = weight.offset() + idv[t] * weight.stride(0);
                for (int j = 0; j < hidden; j++) o[t * hidden + j] = weight.getStorage(row + j * step);
            }
        }
        return Autograd.record(out, "embedding", g -> new Tensor[] {scatterRows(g, idv, vocab, hidden, type)}, weight);
    }

    /** Copies row {@code id} of the table into dst[pos, pos + hidden) as float, decoding BF16/F16. */
    private static void readRow(Tensor weight, long id, float[] dst, int pos, int hidden) {
        MemorySegment seg = weight.segment();
        long start = weight.offset() + id * weight.stride(0), step = weight.stride(1);
        switch (weight.dtype()) {
            case F32 -> {
                if (step == 1 && seg.address() == 0 && seg.heapBase().orElse(null) instanceof float[] table) {
                    System.arraycopy(table, Math.toIntExact(start), dst, pos, hidden);
                } else if (step == 1) {
                    MemorySegment.copy(seg, F32_LE, start * Float.BYTES, dst, pos, hidden);
                } else {
                    for (int j = 0; j < hidden; j++) dst[pos + j] = seg.getAtIndex(F32_LE, start + j * step);
                }
            }
            case BF16 -> {
                for (int j = 0; j < hidden; j++) {
                    dst[pos + j] = Float.intBitsToFloat((seg.getAtIndex(I16_LE, start + j * step) & 0xffff) << 16);
                }
            }
            case F16 -> {
                for (int j = 0; j < hidden; j++) dst[pos + j] = Float.float16ToFloat(seg.getAtIndex(I16_LE, start + j * step));
            }
            default -> {
                for (int j = 0; j < hidden; j++) dst[pos + j] = (float) weight.getStorage(start + j * step);
            }
        }
    }

    /** The dense [V, H] gradient of the table: row ids[t] receives the gradient of output token t. */
    private static Tensor scatterRows(Tensor g, long[] ids, int vocab, int hidden, DType type) {
        Object gv = Shapes.values(g, type);
        Object gw = Shapes.newArray(type, Math.multiplyExact(vocab, hidden));
        if (gv instanceof float[] src) {
            float[] dst = (float[]) gw;
            for (int t = 0; t < ids.length; t++) {
                int row = (int) ids[t] * hidden, from = t * hidden;
                for (int j = 0; j < hidden; j++) dst[row + j] += src[from + j];
            }
        } else {
            double[] src = (double[]) gv, dst = (double[]) gw;
            for (int t = 0; t < ids.length; t++) {
                int row = (int) ids[t] * hidden, from = t * hidden;
                for (int j = 0; j < hidden; j++) dst[row + j] += src[from + j];
            }
        }
        return Shapes.wrap(gw, vocab, hidden);
    }

    /** The multi-index of row-major position {@code flat} in {@code shape}. */
    private static int[] unravel(long flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = (int) (flat % shape[d]);
            flat /= shape[d];
        }
        return idx;
    }
}
