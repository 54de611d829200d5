package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * A 4-D tensor read as rows of its last dimension in a float[]: element (a, b, c, d) lies at
 * {@code row(a, b, c) + d}. Attention inputs are usually head-split views of a linear output
 * ([B, T, H, D] transposed to [B, H, T, D]); reading them through their strides saves a copy. Tensors
 * that are not F32 on the heap with a unit innermost stride are copied once to a contiguous F32 array.
 */
final class AttentionRows {
    private static final int[] IDENTITY = {0, 1, 2, 3};

    final float[] data;
    private final long base;
    private final long s0;
    private final long s1;
    private final long s2;

    private AttentionRows(float[] data, long base, long s0, long s1, long s2) {
        this.data = data;
        this.base = base;
        this.s0 = s0;
        this.s1 = s1;
        this.s2 = s2;
    }

    /** Rows of a fresh zeroed, contiguous F32 array of this shape. */
    static Fresh zeros(int[] shape) { return new Fresh(shape, IDENTITY); }

    /**
     * Rows of a fresh zeroed F32 array of {@code like}'s shape, laid out in memory like {@code like}
     * when that is a dense permutation with the last dimension innermost (such as [B, T, H, D]
     * transposed to [B, H, T, D]). A gradient made this way turns back into a contiguous tensor when
     * the view ops that made {@code like} pass it backward, so no strided copy is needed there.
     */
    static Fresh zerosLike(Tensor like) { return new Fresh(like.shape(), denseOrder(like)); }

    /** Rows of the 4-D tensor {@code t}, sharing its storage when the layout allows. */
    static AttentionRows of(Tensor t) {
        if (t.dim() != 4) throw new IllegalArgumentException("expected a 4-D tensor, got " + t);
        float[] heap = heapArray(t);
        if (heap != null) {
            long base = t.segment().address() / Float.BYTES + t.offset();
            return new AttentionRows(heap, base, t.stride(0), t.stride(1), t.stride(2));
        }
        Tensor c = t.detach().detachedCopy(DType.F32);
        return new AttentionRows(c.heapFloats(), 0, c.stride(0), c.stride(1), c.stride(2));
    }

    /** Index in {@link #data} of element (a, b, c, 0). */
    int row(int a, int b, int c) { return (int) (base + a * s0 + b * s1 + c * s2); }

    /**
     * The dimensions of t from outermost to innermost in memory when t is dense (no gaps, no
     * broadcasting) with its last dimension innermost, else the identity order.
     */
    private static int[] denseOrder(Tensor t) {
        Integer[] order = {0, 1, 2, 3};
        Arrays.sort(order, (a, b) -> Long.compare(t.stride(b), t.stride(a)));
        if (order[3] != 3) return IDENTITY;
        long expected = 1;
        for (int p = 3; p >= 0; p--) {
            int d = order[p];
            if (t.size(d) != 1 && t.stride(d) != expected) return IDENTITY;
            expected *= t.size(d);
        }
        return new int[] {order[0], order[1], order[2], order[3]};
    }

    private static float[] heapArray(Tensor t) {
        if (t.dtype() != DType.F32 || (t.size(3) != 1 && t.stride(3) != 1)) return null;
        Object heapBase = t.segment().heapBase().orElse(null);
        return heapBase instanceof float[] f && t.segment().address() % Float.BYTES == 0 ? f : null;
    }

    /** Rows of an array this op fills, which becomes the tensor it returns. */
    static final class Fresh {
        final AttentionRows rows;
        private final int[] physicalShape;
        private final int[] viewOrder;

        /** @param order the dimensions of {@code shape} from outermost to innermost in memory */
        private Fresh(int[] shape, int[] order) {
            physicalShape = new int[4];
            viewOrder = new int[4];
            for (int p = 0; p < 4; p++) {
                physicalShape[p] = shape[order[p]];
                viewOrder[order[p]] = p;
            }
            long[] physicalStrides = Tensor.contiguousStrides(physicalShape);
            long[] strides = new long[4];
            for (int p = 0; p < 4; p++) strides[order[p]] = physicalStrides[p];
            rows = new AttentionRows(Workspace.floats(Math.toIntExact(Tensor.numel(shape))), 0, strides[0], strides[1], strides[2]);
        }

        /** The filled array as a tensor of the requested shape (a permuted view when laid out like another). */
        Tensor tensor() { return Tensor.of(rows.data, physicalShape).permute(viewOrder); }
    }
}
