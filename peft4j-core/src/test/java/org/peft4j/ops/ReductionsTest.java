package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.ops.ElementwiseTest.f64;
import static org.peft4j.ops.ElementwiseTest.randnF32;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class ReductionsTest {
    /** Sum over the flagged axes by visiting every element, as a reference (kept-dims layout). */
    static double[] naiveSum(Tensor x, boolean[] reduced) {
        int[] shape = x.shape();
        int[] keep = shape.clone();
        for (int d = 0; d < shape.length; d++) if (reduced[d]) keep[d] = 1;
        double[] out = new double[Math.toIntExact(Tensor.numel(keep))];
        long[] keepStrides = Tensor.contiguousStrides(keep);
        int[] idx = new int[shape.length];
        for (long i = 0, n = x.numel(); i < n; i++) {
            long o = 0;
            for (int d = 0; d < shape.length; d++) if (!reduced[d]) o += idx[d] * keepStrides[d];
            out[(int) o] += x.getFlat(i);
            for (int d = shape.length - 1; d >= 0; d--) {
                if (++idx[d] < shape[d]) break;
                idx[d] = 0;
            }
        }
        return out;
    }

    static boolean[] flags(int rank, int... axes) {
        boolean[] r = new boolean[rank];
        for (int a : axes) r[a] = true;
        return r;
    }

    @Test
    void gradients() {
        for (int[] shape : new int[][] {{1}, {3, 5}, {2, 1, 7}, {17}}) {
            GradCheck.check("sum", in -> Reductions.sum(in[0]), GradCheck.randn(1, shape));
            GradCheck.check("mean", in -> Reductions.mean(in[0]), GradCheck.randn(2, shape));
            for (int axis = -shape.length; axis < shape.length; axis++) {
                int a = axis;
                GradCheck.check("sum axis " + a, in -> Reductions.sum(in[0], a, false), GradCheck.randn(3, shape));
                GradCheck.check("sum keep " + a, in -> Reductions.sum(in[0], a, true), GradCheck.randn(4, shape));
                GradCheck.check("mean axis " + a, in -> Reductions.mean(in[0], a, false), GradCheck.randn(5, shape));
                GradCheck.check("mean keep " + a, in -> Reductions.mean(in[0], a, true), GradCheck.randn(6, shape));
            }
        }
        GradCheck.check("sum axes", in -> Reductions.sum(in[0], new int[] {0, 2}, false), GradCheck.randn(7, 2, 3, 4));
        GradCheck.check("mean axes", in -> Reductions.mean(in[0], new int[] {2, 0}, true), GradCheck.randn(8, 2, 3, 4));
    }

    @Test
    void shapesAndValues() {
        Tensor x = GradCheck.randn(11, 2, 3, 4).detach();
        assertArrayEquals(new int[] {}, Reductions.sum(x).shape());
        assertArrayEquals(new int[] {2, 4}, Reductions.sum(x, 1, false).shape());
        assertArrayEquals(new int[] {2, 1, 4}, Reductions.sum(x, -2, true).shape());
        assertArrayEquals(new int[] {3}, Reductions.mean(x, new int[] {0, 2}, false).shape());
        assertArrayEquals(new int[] {1, 3, 1}, Reductions.mean(x, new int[] {0, 2}, true).shape());
        assertArrayEquals(naiveSum(x, flags(3, 0, 2)), Reductions.sum(x, new int[] {0, 2}, false).toDoubleArray(), 1e-12);
        double[] mean = Reductions.mean(x, 1, false).toDoubleArray();
        double[] sum = naiveSum(x, flags(3, 1));
        for (int i = 0; i < sum.length; i++) assertEquals(sum[i] / 3, mean[i], 1e-12);
        assertEquals(Arrays.stream(x.toDoubleArray()).sum(), Reductions.sum(x).item(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Reductions.sum(x, new int[] {1, -2}, false));
        assertThrows(IllegalArgumentException.class, () -> Reductions.sum(x, 3, false));
    }

    @Test
    void float32MatchesReferenceOnEveryAxisSet() {
        Tensor x = randnF32(21, 1, 0.5, 5, 37, 129);
        int[][] axisSets = {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}};
        for (int[] axes : axisSets) {
            double[] ref = naiveSum(x, flags(3, axes));
            double[] got32 = Reductions.sum(x, axes, false).toDoubleArray();
            double[] got64 = Reductions.sum(f64(x), axes, false).toDoubleArray();
            assertTrue(GradCheck.relError(got32, ref) < 1e-6, Arrays.toString(axes) + " " + GradCheck.relError(got32, ref));
            assertArrayEquals(ref, got64, 1e-9);
        }
        // Strided input goes through the same engine after packing.
        Tensor t = x.transpose(0, 2);
        assertTrue(GradCheck.relError(Reductions.sum(t, 1, false).toDoubleArray(),
                naiveSum(t, flags(3, 1))) < 1e-6);
    }

    @Test
    void longSumsStayAccurate() {
        float[] v = new float[1_000_003];
        Arrays.fill(v, 0.1f);
        double exact = v.length * (double) 0.1f;
        // Equal values make float rounding errors add up instead of cancelling: the worst case.
        assertEquals(exact, Reductions.sum(Tensor.of(v, v.length)).item(), exact * 3e-7);
        assertEquals(0.1f, Reductions.mean(Tensor.of(v, v.length)).item(), 3e-8);
        // Rows long enough to be chunked, and many short rows.
        Tensor rows = Tensor.of(v, 1, 1_000_003);
        assertEquals(exact, Reductions.sum(rows, 1, false).item(), exact * 3e-7);
        Tensor cols = Tensor.of(Arrays.copyOf(v, 1_000_000), 100_000, 10);
        double[] colSums = Reductions.sum(cols, 0, false).toDoubleArray();
        for (double s : colSums) assertEquals(100_000 * (double) 0.1f, s, 1e4 * 3e-7);
    }

    @Test
    void resultIsFreshEvenWithoutReduction() {
        Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3);
        Tensor s = Reductions.sum(x, 0, false);
        assertEquals(DType.F32, s.dtype());
        s.set(9, 0);
        assertEquals(1, x.get(0, 0));
    }
}
