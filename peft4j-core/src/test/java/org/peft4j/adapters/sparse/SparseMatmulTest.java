package org.peft4j.adapters.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.autograd.Autograd;
import org.peft4j.ops.Indexing;
import org.peft4j.ops.Linear;
import org.peft4j.ops.Reductions;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

/** The sparse projection kernels: gradient checks in F64, F32 against F64, and agreement with a dense matrix holding zeros. */
class SparseMatmulTest {
    /** A pattern keeping each position with probability {@code density}, and at least one. */
    static SparsePattern randomPattern(long seed, int rows, int cols, double density) {
        Random r = new Random(seed);
        boolean[] keep = new boolean[rows * cols];
        for (int i = 0; i < keep.length; i++) keep[i] = r.nextDouble() < density;
        keep[r.nextInt(keep.length)] = true;
        return SparsePattern.ofMask(rows, cols, keep);
    }

    /** F64 values for a pattern that require a gradient. */
    static Tensor values(long seed, SparsePattern p) { return GradCheck.randn(seed, p.nnz()); }

    /** The dense [rows, cols] weight of a pattern and its values, as a leaf tensor. */
    static Tensor dense(SparsePattern p, Tensor values) { return Tensor.of(p.scatter(values.doubles()), p.rows(), p.cols()); }

    @ParameterizedTest(name = "dense GEMM: {0}")
    @ValueSource(booleans = {false, true})
    void gradCheckThroughTheSparseProjection(boolean dense) {
        SparsePattern p = randomPattern(1, 5, 7, 0.4);
        Tensor x = GradCheck.randn(2, 2, 3, 7), v = values(3, p), b = GradCheck.randn(4, 5);
        GradCheck.check("sparse linear", in -> SparseMatmul.linear(in[0], p, in[1], in[2], dense), x, v, b);
        Tensor row = GradCheck.randn(5, 1, 7);
        SparsePattern oneRow = randomPattern(6, 1, 7, 0.5);
        GradCheck.check("sparse linear, one output", in -> SparseMatmul.linear(in[0], oneRow, in[1], null, dense), row, values(7, oneRow));
    }

    @ParameterizedTest(name = "dense GEMM: {0}")
    @ValueSource(booleans = {false, true})
    void matchesADenseLinearWhosePrunedWeightsAreZeroAndPrunedPositionsGetNoGradient(boolean dense) {
        SparsePattern p = randomPattern(8, 6, 9, 0.3);
        Tensor x = GradCheck.randn(9, 4, 9), v = values(10, p), b = GradCheck.randn(11, 6);
        Tensor w = dense(p, v).requiresGrad(true);
        Tensor sparse = SparseMatmul.linear(x, p, v, b, dense);
        Tensor reference = Linear.linear(x, w, b);
        assertArrayEquals(reference.doubles(), sparse.doubles(), 1e-12);
        Tensor g = GradCheck.randn(12, 4, 6).detach();
        Autograd.backward(sparse, g);
        double[] dxSparse = x.grad().doubles().clone();
        x.zeroGrad();
        Autograd.backward(reference, g);
        assertArrayEquals(x.grad().doubles(), dxSparse, 1e-12);
        double[] dw = w.grad().doubles();
        assertArrayEquals(p.gather(dw), v.grad().doubles(), 1e-12, "the kept weights' gradient is the dense one at their positions");
        assertEquals(p.nnz(), v.grad().numel(), "pruned positions have no gradient entry at all");
    }

    @ParameterizedTest(name = "dense GEMM: {0}")
    @ValueSource(booleans = {false, true})
    void float32MatchesFloat64OnBlocksAndTails(boolean dense) {
        for (int n : new int[] {1, 17, 2 * SparseMatmul.BLOCK + 5}) {
            SparsePattern p = randomPattern(n, 37, 45, 0.35);
            Tensor x64 = GradCheck.randn(20 + n, n, 45), v64 = values(21, p), b64 = GradCheck.randn(22, 37);
            Tensor x32 = x64.detachedCopy(DType.F32).requiresGrad(true), v32 = v64.detachedCopy(DType.F32).requiresGrad(true);
            Tensor b32 = b64.detachedCopy(DType.F32).requiresGrad(true);
            Tensor y64 = SparseMatmul.linear(x64, p, v64, b64, dense), y32 = SparseMatmul.linear(x32, p, v32, b32, dense);
            assertEquals(DType.F32, y32.dtype());
            assertClose(y64.doubles(), y32.doubles(), "forward n=" + n);
            Tensor g = GradCheck.randn(23, n, 37).detach();
            Autograd.backward(y64, g);
            Autograd.backward(y32, g.detachedCopy(DType.F32));
            assertClose(x64.grad().doubles(), x32.grad().doubles(), "dx n=" + n);
            assertClose(v64.grad().doubles(), v32.grad().doubles(), "dvalues n=" + n);
            assertClose(b64.grad().doubles(), b32.grad().doubles(), "dbias n=" + n);
        }
    }

    @ParameterizedTest(name = "dense GEMM: {0}")
    @ValueSource(booleans = {false, true})
    void onlyTheInputsThatNeedItGetAGradient(boolean dense) {
        SparsePattern p = randomPattern(30, 8, 8, 0.5);
        Tensor x = GradCheck.randn(31, 3, 8).detach(), v = values(32, p).detachedCopy(DType.F32).requiresGrad(true);
        Tensor y = SparseMatmul.linear(x.detachedCopy(DType.F32), p, v, null, dense);
        Reductions.sum(y).backward();
        assertNull(x.grad());
        assertEquals(p.nnz(), v.grad().numel());
    }

    @Test
    void theDenseGemmTakesOverAboveItsDensity() {
        Tensor x = GradCheck.randn(40, 3, 12);
        SparsePattern sparse = randomPattern(41, 8, 12, 0.1), dense = randomPattern(42, 8, 12, 0.6);
        assertTrue(sparse.density() <= SparseMatmul.DENSE_ABOVE && dense.density() > SparseMatmul.DENSE_ABOVE);
        assertEquals("sparseLinear", SparseMatmul.linear(x, sparse, values(43, sparse), null).gradFn().op());
        assertEquals("linear", SparseMatmul.linear(x, dense, values(44, dense), null).gradFn().op());
    }

    /**
     * Inputs whose entries in each row are a shuffled arithmetic sequence with step 0.25, so the top-k set
     * cannot change within a finite-difference step and no entry sits at a kink.
     */
    static Tensor separated(long seed, int rows, int cols) {
        Random r = new Random(seed);
        double[] v = new double[rows * cols];
        for (int t = 0; t < rows; t++) {
            int[] perm = r.ints(0, Integer.MAX_VALUE).limit(cols).toArray();
            Integer[] order = new Integer[cols];
            for (int i = 0; i < cols; i++) order[i] = i;
            java.util.Arrays.sort(order, (a, b) -> Integer.compare(perm[a], perm[b]));
            for (int i = 0; i < cols; i++) v[t * cols + order[i]] = -1.1 + 0.25 * i;
        }
        return Tensor.of(v, rows, cols).requiresGrad(true);
    }

    @Test
    void gradCheckThroughTheTopKPath() {
        SparsePattern p = randomPattern(40, 6, 7, 0.6);
        Tensor x = separated(41, 5, 7), v = values(42, p), b = GradCheck.randn(43, 6);
        GradCheck.check("top-k sparse linear", in -> SparseMatmul.topKLinear(in[0], 3, p, in[1], in[2]), x, v, b);
        SparsePattern full = SparsePattern.full(4, 7);
        GradCheck.check("top-1 dense", in -> SparseMatmul.topKLinear(in[0], 1, full, in[1], null), separated(44, 3, 7), values(45, full));
    }

    @Test
    void topKEqualsMaskingThenProjectingAndUnselectedUnitsGetExactlyZeroGradient() {
        SparsePattern p = randomPattern(50, 9, 11, 0.5);
        Tensor x = separated(51, 6, 11), v = values(52, p), b = GradCheck.randn(53, 9);
        int k = 4;
        Tensor y = SparseMatmul.topKLinear(x, k, p, v, b);
        Tensor x2 = x.detach().detachedCopy(DType.F64).requiresGrad(true);
        Tensor reference = SparseMatmul.linear(Indexing.topKMask(x2, k), p, v.detach(), b.detach());
        assertArrayEquals(reference.doubles(), y.doubles(), 1e-12);
        Tensor g = GradCheck.randn(54, 6, 9).detach();
        Autograd.backward(y, g);
        Autograd.backward(reference, g);
        assertArrayEquals(x2.grad().doubles(), x.grad().doubles(), 1e-12);
        Tensor kept = Indexing.topKMask(x.detach(), k);
        for (int i = 0; i < x.numel(); i++) {
            if (kept.getFlat(i) == 0) assertEquals(0.0, x.grad().getFlat(i), "unit " + i + " is not in the top k");
        }
    }

    @Test
    void topKKeepsWhatTopKMaskKeepsUnderTiesAndSignedZeros() {
        double[] levels = {-0.0, 0.0, 0.5, 1.0, -1.0};
        Random r = new Random(55);
        int rows = 40, cols = 13;
        double[] v = new double[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = levels[r.nextInt(levels.length)];
        int[] diagonal = java.util.stream.IntStream.range(0, cols).map(i -> i * cols + i).toArray();
        SparsePattern identity = SparsePattern.ofFlatIndices(cols, cols, diagonal);
        Tensor ones = Tensor.full(DType.F64, 1.0, cols), upstream = Tensor.full(DType.F64, 1.0, rows, cols);
        for (int k : new int[] {1, 4, 13}) {
            for (DType type : new DType[] {DType.F32, DType.F64}) {
                Tensor x = Tensor.of(v, rows, cols).detachedCopy(type).requiresGrad(true);
                Tensor xr = Tensor.of(v, rows, cols).requiresGrad(true);
                Tensor got = SparseMatmul.topKLinear(x, k, identity, ones.detachedCopy(type), null), want = Indexing.topKMask(xr, k);
                assertArrayEquals(want.doubles(), got.doubles(), 0.0, "k=" + k + " " + type);
                Autograd.backward(got, upstream.detachedCopy(type));
                Autograd.backward(want, upstream);
                assertArrayEquals(xr.grad().doubles(), x.grad().doubles(), 0.0, "the same entries are kept, k=" + k + " " + type);
            }
        }
    }

    @Test
    void topKFloat32MatchesFloat64() {
        int n = 300, in = 40, out = 37, k = 7;
        SparsePattern p = randomPattern(60, out, in, 0.3);
        Tensor x64 = separated(61, n, in), v64 = values(62, p), b64 = GradCheck.randn(63, out);
        Tensor x32 = x64.detachedCopy(DType.F32).requiresGrad(true), v32 = v64.detachedCopy(DType.F32).requiresGrad(true);
        Tensor b32 = b64.detachedCopy(DType.F32).requiresGrad(true);
        Tensor y64 = SparseMatmul.topKLinear(x64, k, p, v64, b64), y32 = SparseMatmul.topKLinear(x32, k, p, v32, b32);
        assertClose(y64.doubles(), y32.doubles(), "forward");
        Tensor g = GradCheck.randn(64, n, out).detach();
        Autograd.backward(y64, g);
        Autograd.backward(y32, g.detachedCopy(DType.F32));
        assertClose(x64.grad().doubles(), x32.grad().doubles(), "dx");
        assertClose(v64.grad().doubles(), v32.grad().doubles(), "dvalues");
        assertClose(b64.grad().doubles(), b32.grad().doubles(), "dbias");
    }

    @Test
    void patternsRoundTripThroughIndicesAndMasksAndRejectBadInput() {
        SparsePattern p = randomPattern(70, 13, 11, 0.3);
        assertEquals(p, SparsePattern.ofFlatIndices(13, 11, p.flatIndices()));
        assertEquals(p, SparsePattern.ofPackedMask(13, 11, p.packedMask()));
        assertEquals(143, SparsePattern.full(13, 11).nnz());
        assertThrows(IllegalArgumentException.class, () -> SparsePattern.ofFlatIndices(2, 2, new int[] {1, 1}));
        assertThrows(IllegalArgumentException.class, () -> SparsePattern.ofFlatIndices(2, 2, new int[] {4}));
        assertThrows(IllegalArgumentException.class, () -> SparsePattern.ofPackedMask(2, 3, new byte[] {(byte) 0x40}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SparseMatmul.linear(Tensor.zeros(2, 5), p, Tensor.zeros(p.nnz()), null));
        assertTrue(e.getMessage().contains("[2, 5]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SparseMatmul.linear(Tensor.zeros(2, 11), p, Tensor.zeros(p.nnz() + 1), null));
    }

    private static void assertClose(double[] want, double[] got, String what) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        for (double w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 2e-5 * Math.max(1, scale), what + " at " + i);
        }
    }
}
