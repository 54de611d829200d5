package org.peft4j.tensor.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.BFloat16;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Parallel;
import org.peft4j.tensor.Tensor;

class GemmTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int[] SIZES = {1, 3, 7, 17, 33, 65, 129};

    /** A matrix stored row-major (or transposed) with padding after each stored row. */
    private record Stored(float[] data, int offset, int ld, boolean transposed, int rows, int cols) {
        double get(int i, int j) {
            return transposed ? data[offset + j * ld + i] : data[offset + i * ld + j];
        }

        static Stored random(Random r, int rows, int cols, boolean transposed) {
            int storedRows = transposed ? cols : rows, storedCols = transposed ? rows : cols;
            int ld = storedCols + 3, offset = 5;
            float[] d = new float[offset + storedRows * ld + 2];
            for (int i = 0; i < d.length; i++) d[i] = r.nextFloat() * 2 - 1;
            return new Stored(d, offset, ld, transposed, rows, cols);
        }
    }

    private static double[] naive(Stored a, Stored b, double alpha, double beta, float[] c0, int cOff, int ldc) {
        int m = a.rows, k = a.cols, n = b.cols;
        double[] out = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a.get(i, p) * b.get(p, j);
                out[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c0[cOff + i * ldc + j]);
            }
        }
        return out;
    }

    private static void assertClose(double[] expected, float[] c, int cOff, int ldc, int m, int n, String what) {
        double scale = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double e = expected[i * n + j], got = c[cOff + i * ldc + j];
                if (Math.abs(e - got) > 1e-5 * Math.max(1, scale)) {
                    throw new AssertionError(what + ": C[" + i + "," + j + "] = " + got + ", expected " + e);
                }
            }
        }
    }

    private static float[] randomC(Random r, int size, boolean nan) {
        float[] c = new float[size];
        for (int i = 0; i < c.length; i++) c[i] = nan ? Float.NaN : r.nextFloat();
        return c;
    }

    @Test
    void everyVariantMatchesFloat64OnOddShapes() {
        Random r = new Random(7);
        float[][] alphaBeta = {{1, 0}, {0.5f, 1}, {-2, 0.25f}};
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                for (int mi = 0; mi < SIZES.length; mi++) {
                    int m = SIZES[mi], n = SIZES[(mi + 3) % SIZES.length], k = SIZES[(mi + 5) % SIZES.length];
                    float[] ab = alphaBeta[mi % alphaBeta.length];
                    Stored a = Stored.random(r, m, k, ta), b = Stored.random(r, k, n, tb);
                    int ldc = n + 2, cOff = 1;
                    float[] c = randomC(r, cOff + m * ldc, ab[1] == 0);
                    double[] expected = naive(a, b, ab[0], ab[1], c, cOff, ldc);
                    Gemm.sgemm(ta, tb, m, n, k, ab[0], a.data, a.offset, a.ld, b.data, b.offset, b.ld, ab[1], c, cOff, ldc);
                    assertClose(expected, c, cOff, ldc, m, n,
                            (ta ? "T" : "N") + (tb ? "T" : "N") + " m=" + m + " n=" + n + " k=" + k);
                }
            }
        }
    }

    @Test
    void deepProductsCrossSeveralPanels() {
        // k > KC and n > NR exercise the panel loop (beta applied once, later panels accumulate).
        Random r = new Random(3);
        int m = 67, n = 129, k = Gemm.KC * 2 + 33;
        Stored a = Stored.random(r, m, k, false), b = Stored.random(r, k, n, true);
        float[] c = randomC(r, m * n, false);
        double[] expected = naive(a, b, 1.5, -0.5, c, 0, n);
        Gemm.sgemm(false, true, m, n, k, 1.5f, a.data, a.offset, a.ld, b.data, b.offset, b.ld, -0.5f, c, 0, n);
        assertClose(expected, c, 0, n, m, n, "NT deep");
    }

    @Test
    void segmentStorageMatchesHeap() {
        Random r = new Random(11);
        int m = 33, n = 65, k = 17;
        Stored a = Stored.random(r, m, k, false);
        for (DType dtype : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (boolean transB : new boolean[] {false, true}) {
                // B as an off-heap weight of dtype, stored [n, k] (HF Linear layout) or [k, n].
                int storedRows = transB ? n : k, storedCols = transB ? k : n, ld = storedCols + 1;
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment seg = arena.allocate((long) (storedRows * ld + 4) * dtype.byteSize());
                    float[] rounded = new float[storedRows * ld + 4];
                    for (int i = 0; i < rounded.length; i++) {
                        float v = r.nextFloat() * 2 - 1;
                        switch (dtype) {
                            case F32 -> seg.setAtIndex(F32, i, v);
                            case BF16 -> {
                                short bits = BFloat16.fromFloat(v);
                                seg.setAtIndex(I16, i, bits);
                                v = BFloat16.toFloat(bits);
                            }
                            default -> {
                                short bits = Float.floatToFloat16(v);
                                seg.setAtIndex(I16, i, bits);
                                v = Float.float16ToFloat(bits);
                            }
                        }
                        rounded[i] = v;
                    }
                    Stored b = new Stored(rounded, 2, ld, transB, k, n);
                    GemmOperand opB = GemmOperand.ofSegment(seg, dtype, 2, k, n, transB ? 1 : ld, transB ? ld : 1);
                    float[] c = new float[m * n];
                    Gemm.gemm(1f, GemmOperand.ofArray(a.data, a.offset, m, k, a.ld, 1), opB, 0f, c, 0, n);
                    assertClose(naive(a, b, 1, 0, c, 0, n), c, 0, n, m, n, dtype + (transB ? " NT" : " NN"));

                    // the same storage as the A operand, transposed or not
                    GemmOperand opA = GemmOperand.ofSegment(seg, dtype, 2, storedRows, storedCols, ld, 1);
                    Stored asA = new Stored(rounded, 2, ld, false, storedRows, storedCols);
                    Stored bb = Stored.random(r, storedCols, 9, false);
                    float[] c2 = new float[storedRows * 9];
                    Gemm.gemm(1f, opA, GemmOperand.ofArray(bb.data, bb.offset, storedCols, 9, bb.ld, 1), 0f, c2, 0, 9);
                    assertClose(naive(asA, bb, 1, 0, c2, 0, 9), c2, 0, 9, storedRows, 9, dtype + " as A");
                }
            }
        }
    }

    @Test
    void tensorOperandsReadViewsWithoutCopying() {
        Random r = new Random(5);
        float[] w = new float[20 * 9];
        for (int i = 0; i < w.length; i++) w[i] = r.nextFloat();
        Tensor weight = Tensor.of(w, 20, 9);
        Tensor view = weight.narrow(0, 3, 13).transpose(0, 1); // 9 × 13, column-major window
        GemmOperand op = GemmOperand.of(view);
        assertEquals(9, op.rows());
        assertEquals(13, op.cols());
        float[] x = new float[4 * 9];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        float[] c = new float[4 * 13];
        Gemm.gemm(1f, GemmOperand.ofArray(x, 0, 4, 9, 9, 1), op, 0f, c, 0, 13);
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 13; j++) {
                double s = 0;
                for (int p = 0; p < 9; p++) s += x[i * 9 + p] * w[(3 + j) * 9 + p];
                assertEquals(s, c[i * 13 + j], 1e-5);
            }
        }
    }

    @Test
    void multiThreadedEqualsSingleThreaded() {
        Random r = new Random(9);
        int m = 301, n = 197, k = 300;
        Stored a = Stored.random(r, m, k, true), b = Stored.random(r, k, n, false);
        float[] one = new float[m * n], two = new float[m * n];
        int saved = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Gemm.sgemm(true, false, m, n, k, 1f, a.data, a.offset, a.ld, b.data, b.offset, b.ld, 0f, one, 0, n);
            Parallel.setThreads(3);
            Gemm.sgemm(true, false, m, n, k, 1f, a.data, a.offset, a.ld, b.data, b.offset, b.ld, 0f, two, 0, n);
        } finally {
            Parallel.setThreads(saved);
        }
        assertArrayEquals(one, two); // same blocking of k, so the same roundings in the same order
        float[] three = new float[m * n];
        GemmOperand opA = GemmOperand.ofArray(a.data, a.offset, m, k, 1, a.ld);
        Gemm.gemmSingleThread(1f, opA, GemmOperand.ofArray(b.data, b.offset, k, n, b.ld, 1), 0f, three, 0, n);
        assertArrayEquals(one, three);
    }

    @Test
    void degenerateSizesAndBadArguments() {
        float[] c = {1, 2, 3, 4};
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 0.5f, c, 0, 2);
        assertArrayEquals(new float[] {0.5f, 1, 1.5f, 2}, c);
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 0f, c, 0, 2);
        assertArrayEquals(new float[4], c);
        Gemm.sgemm(false, false, 0, 2, 3, 1f, new float[0], 0, 3, new float[6], 0, 2, 0f, c, 0, 2);
        long before = Gemm.callCount();
        Gemm.sgemm(false, false, 1, 1, 1, 2f, new float[] {3}, 0, 1, new float[] {4}, 0, 1, 0f, c, 0, 1);
        assertEquals(24f, c[0]);
        assertTrue(Gemm.callCount() > before);
        assertThrows(IllegalArgumentException.class, () ->
                Gemm.sgemm(false, false, 2, 2, 2, 1f, new float[3], 0, 2, new float[4], 0, 2, 0f, new float[4], 0, 2));
        assertThrows(IllegalArgumentException.class, () ->
                Gemm.sgemm(false, false, 2, 2, 2, 1f, new float[4], 0, 2, new float[4], 0, 2, 0f, new float[3], 0, 2));
        assertThrows(IllegalArgumentException.class, () ->
                Gemm.gemm(1f, GemmOperand.ofArray(new float[6], 0, 2, 3, 3, 1), GemmOperand.ofArray(new float[4], 0, 2, 2, 2, 1),
                        0f, new float[4], 0, 2));
        assertThrows(IllegalArgumentException.class, () ->
                GemmOperand.ofSegment(MemorySegment.ofArray(new long[2]), DType.I64, 0, 1, 1, 1, 1));
    }
}
