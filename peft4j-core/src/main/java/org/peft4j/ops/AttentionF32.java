package org.peft4j.ops;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.peft4j.tensor.Parallel;

/**
 * Float32 attention kernels in the flash-attention style: per head, a block of {@link #ROWS} query
 * rows at a time, scores, softmax and output are computed together, so at most ROWS score rows per
 * thread exist at once. Forward keeps only each row's log-sum-exp; backward recomputes the
 * probabilities from it.
 *
 * <p>Per head the operands are gathered into scratch arrays padded to whole vectors: queries (scaled)
 * and values row-major with {@code dimPadded} floats per row, keys transposed ({@code headDim} rows of
 * {@code keysPadded}) so that scores come out a vector of keys at a time from broadcast-FMAs, with no
 * horizontal sums. Padding is zero, and padded keys get a score of -inf.
 */
final class AttentionF32 {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = SPECIES.length();
    /** Query rows per block: every loaded key or value vector then feeds four independent FMAs. */
    private static final int ROWS = 4;

    private final AttentionDims dims;
    private final float scale;
    private final int keysPadded;
    private final int dimPadded;
    private final int queriesPadded;
    /** Per batch row and padded key: 0 where the key may be attended, -inf where masked or padding. */
    private final float[] keyBias;
    /**
     * Per batch row, the visible keys lie in [keyStart, keyLimit) (keyStart rounded down to whole
     * vectors): the keys of padding around them are skipped, not just masked.
     */
    private final int[] keyStart;
    private final int[] keyLimit;

    /** @param attend per batch row and key, whether the key may be attended; null means all may */
    AttentionF32(AttentionDims dims, boolean[] attend, double scale) {
        this.dims = dims;
        this.scale = (float) scale;
        this.keysPadded = roundUp(dims.keys(), LANES);
        this.dimPadded = roundUp(dims.headDim(), LANES);
        this.queriesPadded = roundUp(dims.queries(), ROWS);
        this.keyBias = new float[dims.batch() * keysPadded];
        this.keyStart = new int[dims.batch()];
        this.keyLimit = new int[dims.batch()];
        for (int b = 0; b < dims.batch(); b++) {
            int first = -1, last = -1;
            for (int j = 0; j < keysPadded; j++) {
                boolean visible = j < dims.keys() && (attend == null || attend[b * dims.keys() + j]);
                keyBias[b * keysPadded + j] = visible ? 0f : Float.NEGATIVE_INFINITY;
                if (visible && first < 0) first = j;
                if (visible) last = j;
            }
            keyStart[b] = first < 0 ? 0 : first / LANES * LANES;
            keyLimit[b] = last + 1;
        }
    }

    /** One past the last key that query i of batch row b may see. */
    private int keyEnd(int b, int i) { return Math.min(dims.keyEnd(i), keyLimit[b]); }


    /**
     * Fills {@code out} ([B, Hq, T, D] rows) with softmax(q·kᵀ·scale + mask)·v and {@code lse}
     * ([B, Hq, T]) with each query row's log-sum-exp of scores (+inf for a row with no visible key).
     */
    void forward(AttentionRows q, AttentionRows k, AttentionRows v, AttentionRows out, float[] lse) {
        int queries = dims.queries(), headDim = dims.headDim();
        Parallel.forRange(dims.batch() * dims.queryHeads(), 1, (start, end) -> {
            float[] qs = new float[queriesPadded * dimPadded];
            float[] kT = new float[headDim * keysPadded];
            float[] vRows = new float[dims.keys() * dimPadded];
            float[] p = new float[ROWS * keysPadded];
            float[] o = new float[ROWS * dimPadded];
            float[] rowScale = new float[ROWS];
            int loadedKv = -1;
            for (int bh = start; bh < end; bh++) {
                int b = bh / dims.queryHeads(), h = bh % dims.queryHeads(), kvh = dims.kvHead(h);
                gatherRows(q, b, h, queries, scale, qs);
                // consecutive query heads of a group share their key/value head
                if (b * dims.kvHeads() + kvh != loadedKv) {
                    gatherColumns(k, b, kvh, kT);
                    gatherRows(v, b, kvh, dims.keys(), 1f, vRows);
                    loadedKv = b * dims.kvHeads() + kvh;
                }
                for (int i0 = 0; i0 < queries; i0 += ROWS) {
                    int rows = Math.min(ROWS, queries - i0);
                    int keyEnd = keyEnd(b, i0 + rows - 1), cols = roundUp(keyEnd, LANES);
                    int from = Math.min(keyStart[b], cols);
                    rowsTimesColumns(qs, i0 * dimPadded, dimPadded, headDim, kT, keysPadded, from, cols, p, keysPadded);
                    for (int r = 0; r < ROWS; r++) {
                        int row = r * keysPadded;
                        if (r < rows) {
                            Arrays.fill(p, row + Math.max(from, keyEnd(b, i0 + r)), row + cols, Float.NEGATIVE_INFINITY);
                            lse[bh * queries + i0 + r] = expRow(p, row, from, cols, b, rowScale, r);
                        } else {
                            Arrays.fill(p, row + from, row + cols, 0f);
                        }
                    }
                    weightsTimesRows(p, keysPadded, from, keyEnd, vRows, dimPadded, o);
                    for (int r = 0; r < rows; r++) {
                        scaleInto(o, r * dimPadded, rowScale[r], out.data, out.row(b, h, i0 + r), headDim);
                    }
                }
            }
        });
    }

    /**
     * Gradients of the forward pass for upstream gradient {@code gradOut}; writes into the rows that
     * are not null (only those the caller needs). {@code dk} and {@code dv} sum over the query heads of a
     * group, so the work is split over (batch, key/value head) and no two threads write one row.
     */
    void backward(AttentionRows q, AttentionRows k, AttentionRows v, AttentionRows out, float[] lse, AttentionRows gradOut,
                  AttentionRows dq, AttentionRows dk, AttentionRows dv) {
        int queries = dims.queries(), keys = dims.keys(), headDim = dims.headDim();
        boolean needScoreGrad = dq != null || dk != null;
        Parallel.forRange(dims.batch() * dims.kvHeads(), 1, (start, end) -> {
            float[] kT = new float[headDim * keysPadded];
            float[] kRows = dq != null ? new float[keys * dimPadded] : null;
            float[] vT = needScoreGrad ? new float[headDim * keysPadded] : null;
            float[] qs = new float[queriesPadded * dimPadded];
            float[] gs = new float[queriesPadded * dimPadded];
            float[] delta = new float[queriesPadded];
            float[] p = new float[ROWS * keysPadded];
            float[] ds = needScoreGrad ? new float[ROWS * keysPadded] : null;
            float[] o = dq != null ? new float[ROWS * dimPadded] : null;
            float[] dkAcc = dk != null ? new float[keys * dimPadded] : null;
            float[] dvAcc = dv != null ? new float[keys * dimPadded] : null;
            for (int bkv = start; bkv < end; bkv++) {
                int b = bkv / dims.kvHeads(), kvh = bkv % dims.kvHeads();
                gatherColumns(k, b, kvh, kT);
                if (kRows != null) gatherRows(k, b, kvh, keys, 1f, kRows);
                if (vT != null) gatherColumns(v, b, kvh, vT);
                if (dkAcc != null) Arrays.fill(dkAcc, 0f);
                if (dvAcc != null) Arrays.fill(dvAcc, 0f);
                for (int h = kvh * dims.group(); h < (kvh + 1) * dims.group(); h++) {
                    int head = (b * dims.queryHeads() + h) * queries;
                    gatherRows(q, b, h, queries, scale, qs);
                    gatherRows(gradOut, b, h, queries, 1f, gs);
                    // delta_i = dO_i · O_i = sum_j P_ij dP_ij, the softmax backward's row term
                    for (int i = 0; i < queries; i++) {
                        delta[i] = dot(gs, i * dimPadded, out.data, out.row(b, h, i), headDim);
                    }
                    for (int i0 = 0; i0 < queries; i0 += ROWS) {
                        int rows = Math.min(ROWS, queries - i0);
                        int keyEnd = keyEnd(b, i0 + rows - 1), cols = roundUp(keyEnd, LANES);
                        int from = Math.min(keyStart[b], cols);
                        rowsTimesColumns(qs, i0 * dimPadded, dimPadded, headDim, kT, keysPadded, from, cols, p, keysPadded);
                        for (int r = 0; r < ROWS; r++) {
                            int row = r * keysPadded;
                            if (r < rows) {
                                probabilityRow(p, row, from, cols, b, Math.max(from, keyEnd(b, i0 + r)), lse[head + i0 + r]);
                            } else {
                                Arrays.fill(p, row + from, row + cols, 0f);
                            }
                        }
                        if (needScoreGrad) {
                            rowsTimesColumns(gs, i0 * dimPadded, dimPadded, headDim, vT, keysPadded, from, cols, ds, keysPadded);
                            for (int r = 0; r < ROWS; r++) scoreGradRow(p, ds, r * keysPadded + from, cols - from, delta[i0 + r]);
                            if (dq != null) {
                                weightsTimesRows(ds, keysPadded, from, keyEnd, kRows, dimPadded, o);
                                for (int r = 0; r < rows; r++) {
                                    scaleInto(o, r * dimPadded, scale, dq.data, dq.row(b, h, i0 + r), headDim);
                                }
                            }
                            if (dkAcc != null) {
                                addOuterProducts(ds, keysPadded, from, keyEnd, qs, i0 * dimPadded, dimPadded, dkAcc);
                            }
                        }
                        if (dvAcc != null) addOuterProducts(p, keysPadded, from, keyEnd, gs, i0 * dimPadded, dimPadded, dvAcc);
                    }
                }
                for (int j = 0; j < keys; j++) {
                    if (dkAcc != null) System.arraycopy(dkAcc, j * dimPadded, dk.data, dk.row(b, kvh, j), headDim);
                    if (dvAcc != null) System.arraycopy(dvAcc, j * dimPadded, dv.data, dv.row(b, kvh, j), headDim);
                }
            }
        });
    }

    // ------------------------------------------------------------------ gathering operands

    /** dst[i * dimPadded + d] = factor · src(b, h, i, d) for i < n. */
    private void gatherRows(AttentionRows src, int b, int h, int n, float factor, float[] dst) {
        float[] data = src.data;
        int headDim = dims.headDim();
        for (int i = 0; i < n; i++) {
            int from = src.row(b, h, i), to = i * dimPadded;
            if (factor == 1f) {
                System.arraycopy(data, from, dst, to, headDim);
            } else {
                for (int d = 0; d < headDim; d++) dst[to + d] = data[from + d] * factor;
            }
        }
    }

    /** dst[d * keysPadded + j] = src(b, h, j, d): the head's keys (or values) transposed. */
    private void gatherColumns(AttentionRows src, int b, int h, float[] dst) {
        float[] data = src.data;
        int headDim = dims.headDim();
        for (int j = 0; j < dims.keys(); j++) {
            int from = src.row(b, h, j);
            for (int d = 0, to = j; d < headDim; d++, to += keysPadded) dst[to] = data[from + d];
        }
    }

    // ------------------------------------------------------------------ row operations

    /**
     * Turns the scores of keys [from, cols) of a row (already -inf beyond the row's causal limit) plus
     * batch row b's key bias into unnormalised weights exp(s − max), stores 1/sum in
     * {@code rowScale[r]} and returns the log-sum-exp. A row with no visible key becomes zeros, with
     * log-sum-exp +inf.
     */
    private float expRow(float[] s, int off, int from, int cols, int b, float[] rowScale, int r) {
        int biasOff = b * keysPadded - off;
        off += from;
        cols -= from;
        FloatVector max = FloatVector.broadcast(SPECIES, Float.NEGATIVE_INFINITY);
        for (int j = off; j < off + cols; j += LANES) {
            FloatVector x = FloatVector.fromArray(SPECIES, s, j).add(FloatVector.fromArray(SPECIES, keyBias, biasOff + j));
            x.intoArray(s, j);
            max = max.max(x);
        }
        float m = max.reduceLanes(VectorOperators.MAX);
        if (m == Float.NEGATIVE_INFINITY) {
            Arrays.fill(s, off, off + cols, 0f);
            rowScale[r] = 0f;
            return Float.POSITIVE_INFINITY;
        }
        FloatVector mv = FloatVector.broadcast(SPECIES, m);
        FloatVector sum = FloatVector.zero(SPECIES);
        for (int j = off; j < off + cols; j += LANES) {
            FloatVector e = FloatVector.fromArray(SPECIES, s, j).sub(mv).lanewise(VectorOperators.EXP);
            e.intoArray(s, j);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        rowScale[r] = 1f / total;
        return m + (float) Math.log(total);
    }

    /**
     * Recomputes the probabilities exp(s + bias − lse) of keys [from, cols) of a row from raw scores,
     * zero at and beyond {@code keyEnd} and everywhere when lse is +inf (no visible key).
     */
    private void probabilityRow(float[] s, int off, int from, int cols, int b, int keyEnd, float lse) {
        if (lse == Float.POSITIVE_INFINITY) {
            Arrays.fill(s, off + from, off + cols, 0f);
            return;
        }
        int biasOff = b * keysPadded - off;
        FloatVector l = FloatVector.broadcast(SPECIES, lse);
        for (int j = off + from; j < off + cols; j += LANES) {
            FloatVector.fromArray(SPECIES, s, j).add(FloatVector.fromArray(SPECIES, keyBias, biasOff + j)).sub(l)
                    .lanewise(VectorOperators.EXP).intoArray(s, j);
        }
        Arrays.fill(s, off + keyEnd, off + cols, 0f);
    }

    /** dS = P ∘ (dP − delta), in place of dP. */
    private static void scoreGradRow(float[] p, float[] dp, int off, int cols, float delta) {
        FloatVector dv = FloatVector.broadcast(SPECIES, delta);
        for (int j = off; j < off + cols; j += LANES) {
            FloatVector.fromArray(SPECIES, p, j).mul(FloatVector.fromArray(SPECIES, dp, j).sub(dv)).intoArray(dp, j);
        }
    }

    private static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    private static void scaleInto(float[] src, int srcOff, float factor, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i] * factor;
    }

    // ------------------------------------------------------------------ block products

    /**
     * c[r][j] = Σ_d a[r][d] · bT[d][j] for the ROWS rows of a (row stride aStride) and from <= j < cols,
     * both multiples of the vector length. Two column vectors per step give eight independent FMA chains.
     */
    private static void rowsTimesColumns(float[] a, int aOff, int aStride, int depth, float[] bT, int bStride,
                                         int from, int cols, float[] c, int cStride) {
        int a0 = aOff, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
        int j = from;
        for (; j + 2 * LANES <= cols; j += 2 * LANES) {
            FloatVector c00 = FloatVector.zero(SPECIES), c01 = c00, c10 = c00, c11 = c00;
            FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int d = 0, bi = j; d < depth; d++, bi += bStride) {
                FloatVector b0 = FloatVector.fromArray(SPECIES, bT, bi);
                FloatVector b1 = FloatVector.fromArray(SPECIES, bT, bi + LANES);
                FloatVector x = FloatVector.broadcast(SPECIES, a[a0 + d]);
                c00 = x.fma(b0, c00);
                c01 = x.fma(b1, c01);
                x = FloatVector.broadcast(SPECIES, a[a1 + d]);
                c10 = x.fma(b0, c10);
                c11 = x.fma(b1, c11);
                x = FloatVector.broadcast(SPECIES, a[a2 + d]);
                c20 = x.fma(b0, c20);
                c21 = x.fma(b1, c21);
                x = FloatVector.broadcast(SPECIES, a[a3 + d]);
                c30 = x.fma(b0, c30);
                c31 = x.fma(b1, c31);
            }
            c00.intoArray(c, j);
            c01.intoArray(c, j + LANES);
            c10.intoArray(c, cStride + j);
            c11.intoArray(c, cStride + j + LANES);
            c20.intoArray(c, 2 * cStride + j);
            c21.intoArray(c, 2 * cStride + j + LANES);
            c30.intoArray(c, 3 * cStride + j);
            c31.intoArray(c, 3 * cStride + j + LANES);
        }
        for (; j < cols; j += LANES) {
            FloatVector c0 = FloatVector.zero(SPECIES), c1 = c0, c2 = c0, c3 = c0;
            for (int d = 0, bi = j; d < depth; d++, bi += bStride) {
                FloatVector b0 = FloatVector.fromArray(SPECIES, bT, bi);
                c0 = FloatVector.broadcast(SPECIES, a[a0 + d]).fma(b0, c0);
                c1 = FloatVector.broadcast(SPECIES, a[a1 + d]).fma(b0, c1);
                c2 = FloatVector.broadcast(SPECIES, a[a2 + d]).fma(b0, c2);
                c3 = FloatVector.broadcast(SPECIES, a[a3 + d]).fma(b0, c3);
            }
            c0.intoArray(c, j);
            c1.intoArray(c, cStride + j);
            c2.intoArray(c, 2 * cStride + j);
            c3.intoArray(c, 3 * cStride + j);
        }
    }

    /**
     * o[r][:] = Σ_{from <= j < n} w[r][j] · m[j][:] for the ROWS weight rows (row stride wStride); m and
     * o rows hold {@code width} floats, a multiple of the vector length.
     */
    private static void weightsTimesRows(float[] w, int wStride, int from, int n, float[] m, int width, float[] o) {
        int w1 = wStride, w2 = 2 * wStride, w3 = 3 * wStride;
        int dc = 0;
        for (; dc + 2 * LANES <= width; dc += 2 * LANES) {
            FloatVector o00 = FloatVector.zero(SPECIES), o01 = o00, o10 = o00, o11 = o00;
            FloatVector o20 = o00, o21 = o00, o30 = o00, o31 = o00;
            for (int j = from, mi = from * width + dc; j < n; j++, mi += width) {
                FloatVector m0 = FloatVector.fromArray(SPECIES, m, mi);
                FloatVector m1 = FloatVector.fromArray(SPECIES, m, mi + LANES);
                FloatVector x = FloatVector.broadcast(SPECIES, w[j]);
                o00 = x.fma(m0, o00);
                o01 = x.fma(m1, o01);
                x = FloatVector.broadcast(SPECIES, w[w1 + j]);
                o10 = x.fma(m0, o10);
                o11 = x.fma(m1, o11);
                x = FloatVector.broadcast(SPECIES, w[w2 + j]);
                o20 = x.fma(m0, o20);
                o21 = x.fma(m1, o21);
                x = FloatVector.broadcast(SPECIES, w[w3 + j]);
                o30 = x.fma(m0, o30);
                o31 = x.fma(m1, o31);
            }
            o00.intoArray(o, dc);
            o01.intoArray(o, dc + LANES);
            o10.intoArray(o, width + dc);
            o11.intoArray(o, width + dc + LANES);
            o20.intoArray(o, 2 * width + dc);
            o21.intoArray(o, 2 * width + dc + LANES);
            o30.intoArray(o, 3 * width + dc);
            o31.intoArray(o, 3 * width + dc + LANES);
        }
        for (; dc < width; dc += LANES) {
            FloatVector o0 = FloatVector.zero(SPECIES), o1 = o0, o2 = o0, o3 = o0;
            for (int j = from, mi = from * width + dc; j < n; j++, mi += width) {
                FloatVector m0 = FloatVector.fromArray(SPECIES, m, mi);
                o0 = FloatVector.broadcast(SPECIES, w[j]).fma(m0, o0);
                o1 = FloatVector.broadcast(SPECIES, w[w1 + j]).fma(m0, o1);
                o2 = FloatVector.broadcast(SPECIES, w[w2 + j]).fma(m0, o2);
                o3 = FloatVector.broadcast(SPECIES, w[w3 + j]).fma(m0, o3);
            }
            o0.intoArray(o, dc);
            o1.intoArray(o, width + dc);
            o2.intoArray(o, 2 * width + dc);
            o3.intoArray(o, 3 * width + dc);
        }
    }

    /**
     * acc[j][:] += Σ_r w[r][j] · x[r][:] for from <= j < n: the ROWS rows of x (from xOff, {@code width}
     * floats each) stay in registers while the accumulator rows stream past.
     */
    private static void addOuterProducts(float[] w, int wStride, int from, int n, float[] x, int xOff, int width,
                                         float[] acc) {
        int w1 = wStride, w2 = 2 * wStride, w3 = 3 * wStride;
        int dc = 0;
        for (; dc + 2 * LANES <= width; dc += 2 * LANES) {
            int x0 = xOff + dc;
            FloatVector x00 = FloatVector.fromArray(SPECIES, x, x0);
            FloatVector x01 = FloatVector.fromArray(SPECIES, x, x0 + LANES);
            FloatVector x10 = FloatVector.fromArray(SPECIES, x, x0 + width);
            FloatVector x11 = FloatVector.fromArray(SPECIES, x, x0 + width + LANES);
            FloatVector x20 = FloatVector.fromArray(SPECIES, x, x0 + 2 * width);
            FloatVector x21 = FloatVector.fromArray(SPECIES, x, x0 + 2 * width + LANES);
            FloatVector x30 = FloatVector.fromArray(SPECIES, x, x0 + 3 * width);
            FloatVector x31 = FloatVector.fromArray(SPECIES, x, x0 + 3 * width + LANES);
            for (int j = from, ai = from * width + dc; j < n; j++, ai += width) {
                FloatVector a0 = FloatVector.fromArray(SPECIES, acc, ai);
                FloatVector a1 = FloatVector.fromArray(SPECIES, acc, ai + LANES);
                FloatVector s = FloatVector.broadcast(SPECIES, w[j]);
                a0 = x00.fma(s, a0);
                a1 = x01.fma(s, a1);
                s = FloatVector.broadcast(SPECIES, w[w1 + j]);
                a0 = x10.fma(s, a0);
                a1 = x11.fma(s, a1);
                s = FloatVector.broadcast(SPECIES, w[w2 + j]);
                a0 = x20.fma(s, a0);
                a1 = x21.fma(s, a1);
                s = FloatVector.broadcast(SPECIES, w[w3 + j]);
                a0 = x30.fma(s, a0);
                a1 = x31.fma(s, a1);
                a0.intoArray(acc, ai);
                a1.intoArray(acc, ai + LANES);
            }
        }
        for (; dc < width; dc += LANES) {
            int x0 = xOff + dc;
            FloatVector x00 = FloatVector.fromArray(SPECIES, x, x0);
            FloatVector x10 = FloatVector.fromArray(SPECIES, x, x0 + width);
            FloatVector x20 = FloatVector.fromArray(SPECIES, x, x0 + 2 * width);
            FloatVector x30 = FloatVector.fromArray(SPECIES, x, x0 + 3 * width);
            for (int j = from, ai = from * width + dc; j < n; j++, ai += width) {
                FloatVector a = FloatVector.fromArray(SPECIES, acc, ai);
                a = x00.fma(FloatVector.broadcast(SPECIES, w[j]), a);
                a = x10.fma(FloatVector.broadcast(SPECIES, w[w1 + j]), a);
                a = x20.fma(FloatVector.broadcast(SPECIES, w[w2 + j]), a);
                a = x30.fma(FloatVector.broadcast(SPECIES, w[w3 + j]), a);
                a.intoArray(acc, ai);
            }
        }
    }

    private static int roundUp(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }
}
