package org.peft4j.ops;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.ops.MatMul.Matrix;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/**
 * The fully connected layer {@code y = x·Wᵀ + b} in Hugging Face's {@code nn.Linear} layout: weight
 * [out, in], read in place whatever its storage (F32, or BF16/F16, possibly memory-mapped).
 */
public final class Linear {
    private Linear() {}

    /**
     * x [..., in], weight [out, in], bias [out] or null → [..., out]. Backward computes dx = dy·W, dW =
     * dyᵀ·x and db = column sums of dy, each only when that input requires a gradient, so a frozen
     * weight never costs a weight-gradient GEMM. F64 if any input is F64, else F32.
     */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        if (weight.dim() != 2 || x.dim() == 0 || x.size(-1) != weight.size(1)) {
            throw new IllegalArgumentException("linear: input " + Arrays.toString(x.shape()) + " does not match weight "
                    + Arrays.toString(weight.shape()) + " (expected weight [out, in] and input [..., in])");
        }
        int out = weight.size(0), in = weight.size(1);
        if (bias != null && (bias.dim() != 1 || bias.size(0) != out)) {
            throw new IllegalArgumentException("linear: bias " + Arrays.toString(bias.shape()) + " for weight "
                    + Arrays.toString(weight.shape()) + " must be [" + out + "]");
        }
        for (Tensor t : new Tensor[] {x, weight, bias}) {
            if (t != null && !t.dtype().isFloating()) throw new IllegalArgumentException("linear needs floating tensors, got " + t.dtype());
        }
        DType type = x.dtype() == DType.F64 || weight.dtype() == DType.F64 || (bias != null && bias.dtype() == DType.F64)
                ? DType.F64 : DType.F32;
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = out;
        Tensor y = Workspace.zeros(type, outShape);
        Matrix xm = rows(x.detach());
        int r = xm.rows();
        if (bias != null) fillRows(y, bias, r, out);
        Matrix w = Matrix.last2(weight.detach());
        MatMul.product(xm, w.transpose(), dense(y, r, out), bias != null, true);
        int[] xShape = x.shape();
        boolean wantX = x.requiresGrad(), wantW = weight.requiresGrad(), wantB = bias != null && bias.requiresGrad();
        Matrix saved = wantW ? xm : null; // the input is kept only for a trainable weight's gradient
        return Autograd.record(y, "linear", g -> {
            Tensor gc = type == DType.F32 && g.dtype() != DType.F32 ? g.detachedCopy(DType.F32) : g.detach();
            Matrix gm = rows(gc);
            Tensor dx = null, dw = null, db = null;
            if (wantX) {
                dx = Workspace.zeros(type, xShape);
                MatMul.product(gm, w, dense(dx, r, in), false, true);
            }
            if (wantW) {
                dw = Workspace.zeros(type, out, in);
                MatMul.product(gm.transpose(), saved, dense(dw, out, in), false, true);
            }
            if (wantB) db = columnSums(gm, type);
            return new Tensor[] {dx, dw, db};
        }, x, weight, bias);
    }

    /**
     * t [..., cols] as one matrix [rows, cols] over its own storage when its leading dimensions are
     * evenly strided (contiguous tensors, column slices...), else over a contiguous copy.
     */
    private static Matrix rows(Tensor t) {
        int cols = t.size(-1), rank = t.dim();
        long count = 1;
        for (int d = 0; d < rank - 1; d++) count *= t.size(d);
        int rowCount = Math.toIntExact(count);
        long rowStride = -1, expected = -1;
        boolean even = true;
        for (int d = rank - 2; d >= 0 && even; d--) {
            if (t.size(d) == 1) continue;
            if (rowStride < 0) {
                rowStride = t.stride(d);
            } else if (t.stride(d) != expected) {
                even = false;
            }
            expected = t.stride(d) * t.size(d);
        }
        if (!even) {
            Tensor copy = t.contiguous();
            return new Matrix(copy, copy.offset(), rowCount, cols, cols, 1);
        }
        return new Matrix(t, t.offset(), rowCount, cols, rowStride < 0 ? cols : rowStride, t.stride(-1));
    }

    /** A fresh contiguous tensor seen as [rows, cols]. */
    private static Matrix dense(Tensor t, int rows, int cols) { return new Matrix(t, 0, rows, cols, cols, 1); }

    /** Writes the bias into every row of the fresh output y, for the GEMM to accumulate onto. */
    private static void fillRows(Tensor y, Tensor bias, int rows, int cols) {
        float[] yf = y.heapFloats();
        if (yf != null) {
            float[] b = new float[cols];
            for (int j = 0; j < cols; j++) b[j] = (float) bias.getFlat(j);
            for (int i = 0; i < rows; i++) System.arraycopy(b, 0, yf, i * cols, cols);
        } else {
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) y.setStorage((long) i * cols + j, bias.getFlat(j));
            }
        }
    }

    /** The bias gradient: dy summed over all rows. */
    private static Tensor columnSums(Matrix g, DType type) {
        Tensor db = Tensor.zeros(type, g.cols());
        float[] acc = db.heapFloats();
        MemorySegment seg = g.storage().segment();
        if (acc != null && g.colStride() == 1 && g.storage().dtype() == DType.F32
                && seg.heapBase().orElse(null) instanceof float[] src && seg.byteSize() == 4L * src.length) {
            for (int i = 0; i < g.rows(); i++) {
                int row = Math.toIntExact(g.offset() + i * g.rowStride());
                for (int j = 0; j < acc.length; j++) acc[j] += src[row + j];
            }
        } else {
            for (int j = 0; j < g.cols(); j++) {
                double s = 0;
                for (int i = 0; i < g.rows(); i++) s += g.get(i, j);
                db.setStorage(j, s);
            }
        }
        return db;
    }
}
