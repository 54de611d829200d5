package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.kernels.Gemm;
import org.peft4j.tensor.kernels.GemmOperand;

/**
 * Matrix products with NumPy/PyTorch {@code matmul} semantics: 1-D operands are promoted to a row or
 * column, leading (batch) dimensions broadcast. Operands are read in place through their strides — a
 * transposed view becomes a transposed GEMM, never a copy — and BF16/F16 storage is widened inside the
 * GEMM's packing.
 */
public final class MatMul {
    /** Below this many flops per product, a batch of products never splits one product across threads. */
    private static final long SMALL_PRODUCT_FLOPS = 1L << 22;
    /** Products per worker from which a batch runs whole products on each thread (no forking per product). */
    private static final int PRODUCTS_PER_WORKER = 2;

    private MatMul() {}

    /**
     * {@code a @ b}: a is [..., m, k], b is [..., k, n], the result [batch..., m, n] where batch is the
     * broadcast of both leading shapes. F64 if either input is F64, else F32. Backward computes
     * dA = dC·Bᵀ and dB = Aᵀ·dC, each only when that input requires a gradient.
     */
    public static Tensor matmul(Tensor a, Tensor b) {
        if (a.dim() == 0 || b.dim() == 0) {
            throw new IllegalArgumentException("matmul needs tensors of at least 1 dimension, got shapes "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        if (!a.dtype().isFloating() || !b.dtype().isFloating()) {
            throw new IllegalArgumentException("matmul needs floating tensors, got " + a.dtype() + " and " + b.dtype());
        }
        if (a.dim() == 1 || b.dim() == 1) {
            // A vector is a one-row (a) or one-column (b) matrix whose extra dimension is dropped again.
            Tensor r = matmul(a.dim() == 1 ? a.unsqueeze(0) : a, b.dim() == 1 ? b.unsqueeze(1) : b);
            if (b.dim() == 1) r = dropDim(r, -1);
            if (a.dim() == 1) r = dropDim(r, b.dim() == 1 ? -1 : -2);
            return r;
        }
        int m = a.size(-2), k = a.size(-1), n = b.size(-1);
        if (b.size(-2) != k) {
            throw new IllegalArgumentException("matmul: shapes " + Arrays.toString(a.shape()) + " and "
                    + Arrays.toString(b.shape()) + " do not chain (" + k + " vs " + b.size(-2) + ")");
        }
        int[] batch = Elementwise.broadcastShape(leading(a), leading(b));
        DType type = Elementwise.resultType(a, b);
        Tensor out = Tensor.zeros(type, withMatrix(batch, m, n));
        multiply(a.detach().expand(withMatrix(batch, m, k)), b.detach().expand(withMatrix(batch, k, n)), out);
        int[] aShape = a.shape(), bShape = b.shape();
        return Autograd.record(out, "matmul", g -> {
            Tensor gd = g.detach().expand(withMatrix(batch, m, n));
            Tensor ga = null, gb = null;
            if (a.requiresGrad()) {
                ga = Tensor.zeros(type, aShape);
                Tensor bt = b.detach().expand(withMatrix(batch, k, n)).transpose(-1, -2);
                multiply(gd, bt, ga.detach().expand(withMatrix(batch, m, k)));
            }
            if (b.requiresGrad()) {
                gb = Tensor.zeros(type, bShape);
                Tensor at = a.detach().expand(withMatrix(batch, m, k)).transpose(-1, -2);
                multiply(at, gd, gb.detach().expand(withMatrix(batch, k, n)));
            }
            return new Tensor[] {ga, gb};
        }, a, b);
    }

    /**
     * {@code out[i] = a[i] @ b[i]} for every batch index i, where all three are [batch..., rows, cols]
     * views over the same batch shape and {@code out} is a freshly zeroed contiguous F32/F64 tensor or a
     * broadcast (stride-0) view of one, in which case the products of the batches it broadcasts over are
     * summed into the same matrix. Records nothing.
     */
    static void multiply(Tensor a, Tensor b, Tensor out) {
        int nb = out.dim() - 2;
        int[] shape = out.shape();
        int m = shape[nb], n = shape[nb + 1], k = a.size(-1);
        if (m == 0 || n == 0) return;
        Matrix ma = Matrix.last2(a), mb = Matrix.last2(b), mc = Matrix.last2(out);
        long[] sa = a.strides(), sb = b.strides(), sc = out.strides();
        int[] batch = Arrays.copyOf(shape, nb);

        // Whole batches folded into one product: b shared by all (rows of a stack up), or out shared by
        // all (the batch joins the contraction, as in a weight gradient).
        if (allZero(sb, batch) && chains(sa, batch, sa[nb], m) && chains(sc, batch, sc[nb], m)) {
            int rows = Math.toIntExact(Tensor.numel(batch) * m);
            product(ma.resize(rows, k), mb, mc.resize(rows, n), false, true);
            return;
        }
        if (allZero(sc, batch) && chains(sa, batch, sa[nb + 1], k) && chains(sb, batch, sb[nb], k)) {
            int depth = Math.toIntExact(Tensor.numel(batch) * k);
            product(ma.resize(m, depth), mb.resize(depth, n), mc, false, true);
            return;
        }

        int count = Math.toIntExact(Tensor.numel(batch));
        boolean sharedOutput = false;
        for (int d = 0; d < nb; d++) sharedOutput |= batch[d] > 1 && sc[d] == 0;
        // Independent products (attention heads...) go one per thread when there are enough of them or
        // they are too small to split; otherwise each product is split across the threads in turn.
        boolean perThread = !sharedOutput && count > 1
                && (count >= PRODUCTS_PER_WORKER * Parallel.threads() || 2L * m * n * k < SMALL_PRODUCT_FLOPS);
        if (perThread) {
            Parallel.forRange(count, 1, (s, e) -> {
                for (int i = s; i < e; i++) {
                    product(ma.at(batchOffset(sa, batch, i)), mb.at(batchOffset(sb, batch, i)),
                            mc.at(batchOffset(sc, batch, i)), false, false);
                }
            });
        } else {
            for (int i = 0; i < count; i++) {
                product(ma.at(batchOffset(sa, batch, i)), mb.at(batchOffset(sb, batch, i)),
                        mc.at(batchOffset(sc, batch, i)), sharedOutput, true);
            }
        }
    }

    /**
     * {@code c = a·b}, or {@code c += a·b} when {@code accumulate}, for one matrix triple; c is F32 heap
     * (unit column stride) or F64. Not accumulating skips reading C, which matters for wide outputs.
     */
    static void product(Matrix a, Matrix b, Matrix c, boolean accumulate, boolean parallel) {
        if (c.storage.dtype() == DType.F64) {
            naive(a, b, c, accumulate);
            return;
        }
        float[] out = (float[]) c.storage.segment().heapBase().orElseThrow();
        int cOff = Math.toIntExact(c.offset), ldc = Math.toIntExact(c.rowStride);
        float beta = accumulate ? 1f : 0f;
        if (parallel) Gemm.gemm(1f, a.operand(), b.operand(), beta, out, cOff, ldc);
        else Gemm.gemmSingleThread(1f, a.operand(), b.operand(), beta, out, cOff, ldc);
    }

    /** The generic float64 path (gradient checks): any storage, any strides. */
    private static void naive(Matrix a, Matrix b, Matrix c, boolean accumulate) {
        for (int i = 0; i < a.rows; i++) {
            for (int j = 0; j < b.cols; j++) {
                double s = 0;
                for (int p = 0; p < a.cols; p++) s += a.get(i, p) * b.get(p, j);
                long idx = c.index(i, j);
                c.storage.setStorage(idx, accumulate ? c.storage.getStorage(idx) + s : s);
            }
        }
    }

    /**
     * One matrix inside a tensor's storage: element (i, j) at {@code offset + i·rowStride + j·colStride}.
     * Lets batched and folded products address their operands without building tensor views.
     */
    record Matrix(Tensor storage, long offset, int rows, int cols, long rowStride, long colStride) {
        /** The last two dimensions of t, at t's own offset. */
        static Matrix last2(Tensor t) {
            return new Matrix(t, t.offset(), t.size(-2), t.size(-1), t.stride(-2), t.stride(-1));
        }

        Matrix at(long batchOffset) {
            return new Matrix(storage, offset + batchOffset, rows, cols, rowStride, colStride);
        }

        Matrix resize(int newRows, int newCols) {
            return new Matrix(storage, offset, newRows, newCols, rowStride, colStride);
        }

        Matrix transpose() { return new Matrix(storage, offset, cols, rows, colStride, rowStride); }

        long index(int i, int j) { return offset + i * rowStride + j * colStride; }

        double get(int i, int j) { return storage.getStorage(index(i, j)); }

        GemmOperand operand() {
            return GemmOperand.of(storage, offset, rows, cols, rowStride, colStride);
        }
    }

    /** Sum of the batch strides for row-major batch index i. */
    private static long batchOffset(long[] strides, int[] batch, int i) {
        long off = 0;
        for (int d = batch.length - 1; d >= 0; d--) {
            off += (i % batch[d]) * strides[d];
            i /= batch[d];
        }
        return off;
    }

    /** True when every batch dimension of size > 1 has stride 0 (the operand is shared by all batches). */
    private static boolean allZero(long[] strides, int[] batch) {
        for (int d = 0; d < batch.length; d++) if (batch[d] > 1 && strides[d] != 0) return false;
        return true;
    }

    /**
     * True when the batch dimensions continue a matrix dimension of size {@code size} and stride
     * {@code stride} without gaps, so that batch and that dimension read as one longer dimension.
     */
    private static boolean chains(long[] strides, int[] batch, long stride, int size) {
        long expected = stride * size;
        for (int d = batch.length - 1; d >= 0; d--) {
            if (batch[d] == 1) continue;
            if (strides[d] != expected) return false;
            expected *= batch[d];
        }
        return true;
    }

    private static int[] leading(Tensor t) { return Arrays.copyOf(t.shape(), t.dim() - 2); }

    private static int[] withMatrix(int[] batch, int rows, int cols) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = rows;
        s[batch.length + 1] = cols;
        return s;
    }

    /** Removes a size-1 dimension (recorded: a reshape). */
    private static Tensor dropDim(Tensor t, int d) {
        int axis = t.axis(d);
        int[] s = new int[t.dim() - 1];
        for (int i = 0, j = 0; i < t.dim(); i++) if (i != axis) s[j++] = t.size(i);
        return t.reshape(s);
    }
}
