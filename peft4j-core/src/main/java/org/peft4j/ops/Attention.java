package org.peft4j.ops;

import java.util.Arrays;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.Workspace;

/** Scaled dot-product attention, fused: scores, mask, softmax and the weighted sum of values in one op. */
public final class Attention {
    private Attention() {}

    /**
     * softmax(q·kᵀ·scale + mask)·v per batch row and head.
     *
     * <p>Query head h reads key/value head {@code h / (Hq / Hkv)} (grouped-query attention). Key j is
     * visible to query i when {@code keyMask[b, j] != 0} and, if {@code causal}, {@code j <= i + (S - T)}:
     * with more keys than queries the extra leading keys are past tokens, such as a prefix that
     * prefix tuning places in front of the keys and values (extending the mask with ones). A query row
     * that sees no key outputs zeros.
     *
     * <p>Memory stays at a few score rows per thread: only each row's log-sum-exp is kept for backward,
     * which recomputes the probabilities. Backward gives gradients only to inputs that require them;
     * those of k and v sum over the query heads that share them. A gradient is laid out in memory like
     * its input, so that it passes back through the head-split transpose without a copy.
     *
     * @param q queries [B, Hq, T, D] (views such as a transposed [B, T, Hq, D] are read in place)
     * @param k keys [B, Hkv, S, D], Hq a multiple of Hkv
     * @param v values [B, Hkv, S, D]
     * @param keyMask [B, S], nonzero where the key may be attended; null lets every key be attended
     * @param causal whether query i is also limited to keys up to i + (S - T)
     * @param scale factor applied to q·kᵀ, usually 1/sqrt(D)
     * @return [B, Hq, T, D], F64 if any of q, k, v is F64, else F32
     */
    public static Tensor sdpa(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale) {
        AttentionDims dims = dims(q, k, v, keyMask, causal);
        if (!Double.isFinite(scale)) throw new IllegalArgumentException("sdpa: scale must be finite, got " + scale);
        boolean[] attend = keyMask == null ? null : attendMask(keyMask);
        boolean f64 = q.dtype() == DType.F64 || k.dtype() == DType.F64 || v.dtype() == DType.F64;
        return f64 ? sdpaF64(q, k, v, dims, attend, scale) : sdpaF32(q, k, v, dims, attend, scale);
    }

    private static Tensor sdpaF32(Tensor q, Tensor k, Tensor v, AttentionDims dims, boolean[] attend, double scale) {
        AttentionF32 kernel = new AttentionF32(dims, attend, scale);
        AttentionRows qr = AttentionRows.of(q), kr = AttentionRows.of(k), vr = AttentionRows.of(v);
        // laid out like q: for head-split queries, merging the heads back is then a view, not a copy
        AttentionRows.Fresh out = AttentionRows.zerosLike(q);
        float[] lse = Workspace.floats(dims.batch() * dims.queryHeads() * dims.queries());
        kernel.forward(qr, kr, vr, out.rows, lse);
        Tensor result = out.tensor();
        return Autograd.record(result, "sdpa", g -> {
            AttentionRows.Fresh dq = q.requiresGrad() ? AttentionRows.zerosLike(q) : null;
            AttentionRows.Fresh dk = k.requiresGrad() ? AttentionRows.zerosLike(k) : null;
            AttentionRows.Fresh dv = v.requiresGrad() ? AttentionRows.zerosLike(v) : null;
            kernel.backward(qr, kr, vr, out.rows, lse, AttentionRows.of(g), rowsOf(dq), rowsOf(dk), rowsOf(dv));
            return new Tensor[] {tensorOf(dq), tensorOf(dk), tensorOf(dv)};
        }, q, k, v);
    }

    private static Tensor sdpaF64(Tensor q, Tensor k, Tensor v, AttentionDims dims, boolean[] attend, double scale) {
        AttentionF64 kernel = new AttentionF64(dims, attend, scale);
        double[] qd = q.toDoubleArray(), kd = k.toDoubleArray(), vd = v.toDoubleArray();
        double[] out = new double[qd.length];
        double[] lse = new double[dims.batch() * dims.queryHeads() * dims.queries()];
        kernel.forward(qd, kd, vd, out, lse);
        Tensor result = Tensor.of(out, q.shape());
        return Autograd.record(result, "sdpa", g -> {
            double[] dq = q.requiresGrad() ? new double[qd.length] : null;
            double[] dk = k.requiresGrad() ? new double[kd.length] : null;
            double[] dv = v.requiresGrad() ? new double[vd.length] : null;
            kernel.backward(qd, kd, vd, out, lse, g.toDoubleArray(), dq, dk, dv);
            return new Tensor[] {
                    dq == null ? null : Tensor.of(dq, q.shape()),
                    dk == null ? null : Tensor.of(dk, k.shape()),
                    dv == null ? null : Tensor.of(dv, v.shape())};
        }, q, k, v);
    }

    private static AttentionRows rowsOf(AttentionRows.Fresh f) { return f == null ? null : f.rows; }

    private static Tensor tensorOf(AttentionRows.Fresh f) { return f == null ? null : f.tensor(); }

    private static AttentionDims dims(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal) {
        if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
            throw new IllegalArgumentException("sdpa: q, k, v must be [B, H, T, D], got q " + Arrays.toString(q.shape())
                    + ", k " + Arrays.toString(k.shape()) + ", v " + Arrays.toString(v.shape()));
        }
        if (!Arrays.equals(k.shape(), v.shape())) {
            throw new IllegalArgumentException("sdpa: k " + Arrays.toString(k.shape()) + " and v "
                    + Arrays.toString(v.shape()) + " must have the same shape");
        }
        int batch = q.size(0), queryHeads = q.size(1), kvHeads = k.size(1), keys = k.size(2), headDim = q.size(3);
        if (k.size(0) != batch || k.size(3) != headDim) {
            throw new IllegalArgumentException("sdpa: k " + Arrays.toString(k.shape()) + " does not match q "
                    + Arrays.toString(q.shape()) + " in batch size or head size");
        }
        if (kvHeads == 0 || queryHeads % kvHeads != 0) {
            throw new IllegalArgumentException("sdpa: query heads " + queryHeads
                    + " must be a multiple of key/value heads " + kvHeads);
        }
        if (keyMask != null && (keyMask.dim() != 2 || keyMask.size(0) != batch || keyMask.size(1) != keys)) {
            throw new IllegalArgumentException("sdpa: keyMask must be [B, S] = [" + batch + ", " + keys + "], got "
                    + Arrays.toString(keyMask.shape()));
        }
        return new AttentionDims(batch, queryHeads, kvHeads, q.size(2), keys, headDim, causal);
    }

    private static boolean[] attendMask(Tensor keyMask) {
        boolean[] attend = new boolean[Math.toIntExact(keyMask.numel())];
        for (int i = 0; i < attend.length; i++) attend[i] = keyMask.getFlat(i) != 0;
        return attend;
    }
}
