package org.peft4j.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-tiled inner kernel of {@link Gemm}: one {@link #MR} × {@link #NR} tile of C from an A
 * sliver ({@code MR} rows, packed column by column) and a B sliver ({@code NR} columns, packed row by
 * row). Twelve accumulators of one vector each stay in registers for the whole K loop; each step
 * loads two vectors of B, broadcasts six values of A and issues twelve independent FMAs, which keeps
 * both FMA pipes busy on AVX2 and AVX-512 machines alike.
 */
final class GemmKernel {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Rows of C per tile. */
    static final int MR = 6;
    /** Columns of C per tile: two vectors. */
    static final int NR = 2 * L;

    private GemmKernel() {}

    /**
     * {@code C[0..MR, 0..NR] = alpha · (Ã·B̃) + beta · C} for a full tile at {@code c[ci]} with row stride
     * {@code ldc}; C is not read when beta is 0, so it may hold anything (NaN included).
     */
    static void tile(int kc, float[] a, int ai, float[] b, int bi, float[] c, int ci, int ldc, float alpha, float beta) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        FloatVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector x = FloatVector.broadcast(S, a[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = FloatVector.broadcast(S, a[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = FloatVector.broadcast(S, a[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
            ai += MR;
            bi += NR;
        }
        // The two common epilogues are written out here: when store() is not inlined into this large
        // method, each call boxes its vector argument on the heap.
        if (alpha == 1f && beta == 0f) {
            c00.intoArray(c, ci);
            c01.intoArray(c, ci + L);
            c10.intoArray(c, ci += ldc);
            c11.intoArray(c, ci + L);
            c20.intoArray(c, ci += ldc);
            c21.intoArray(c, ci + L);
            c30.intoArray(c, ci += ldc);
            c31.intoArray(c, ci + L);
            c40.intoArray(c, ci += ldc);
            c41.intoArray(c, ci + L);
            c50.intoArray(c, ci += ldc);
            c51.intoArray(c, ci + L);
        } else if (alpha == 1f && beta == 1f) {
            c00.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c01.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
            ci += ldc;
            c10.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c11.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
            ci += ldc;
            c20.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c21.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
            ci += ldc;
            c30.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c31.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
            ci += ldc;
            c40.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c41.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
            ci += ldc;
            c50.add(FloatVector.fromArray(S, c, ci)).intoArray(c, ci);
            c51.add(FloatVector.fromArray(S, c, ci + L)).intoArray(c, ci + L);
        } else {
            store(c00, c, ci, alpha, beta);
            store(c01, c, ci + L, alpha, beta);
            ci += ldc;
            store(c10, c, ci, alpha, beta);
            store(c11, c, ci + L, alpha, beta);
            ci += ldc;
            store(c20, c, ci, alpha, beta);
            store(c21, c, ci + L, alpha, beta);
            ci += ldc;
            store(c30, c, ci, alpha, beta);
            store(c31, c, ci + L, alpha, beta);
            ci += ldc;
            store(c40, c, ci, alpha, beta);
            store(c41, c, ci + L, alpha, beta);
            ci += ldc;
            store(c50, c, ci, alpha, beta);
            store(c51, c, ci + L, alpha, beta);
        }
    }

    private static void store(FloatVector acc, float[] c, int ci, float alpha, float beta) {
        FloatVector v = alpha == 1f ? acc : acc.mul(alpha);
        if (beta == 1f) {
            v = v.add(FloatVector.fromArray(S, c, ci));
        } else if (beta != 0f) {
            v = FloatVector.fromArray(S, c, ci).mul(beta).add(v);
        }
        v.intoArray(c, ci);
    }
}
