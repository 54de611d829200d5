package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class KronTest {
    @Test
    void kronMatchesHandWrittenMatrix() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor b = Tensor.of(new float[] {0, 5, 6, 7}, 2, 2);
        Tensor k = Kron.kron(a, b);
        assertArrayEquals(new int[] {4, 4}, k.shape());
        assertArrayEquals(new float[] {
            0, 5, 0, 10,
            6, 7, 12, 14,
            0, 15, 0, 20,
            18, 21, 24, 28}, k.toFloatArray());
        Tensor row = Tensor.of(new float[] {1, 2, 3}, 1, 3);
        Tensor col = Tensor.of(new float[] {4, 5}, 2, 1);
        assertArrayEquals(new float[] {4, 8, 12, 5, 10, 15}, Kron.kron(row, col).toFloatArray());
        assertArrayEquals(new float[] {4, 8, 12, 5, 10, 15}, Kron.kron(col, row).toFloatArray());
        // a transposed (non-contiguous) input: [[1, 3], [2, 4]] ⊗ [[1]]
        assertArrayEquals(new float[] {1, 3, 2, 4}, Kron.kron(a.transpose(0, 1), Tensor.ones(1, 1)).toFloatArray());
    }

    @Test
    void kronGradients() {
        Tensor a = GradCheck.randn(1, 2, 3);
        Tensor b = GradCheck.randn(2, 3, 1);
        GradCheck.check("kron", in -> Kron.kron(in[0], in[1]), a, b);
        GradCheck.check("kron transposed", in -> Kron.kron(in[1].transpose(0, 1), in[0].transpose(0, 1)), a, b);
        Tensor one = GradCheck.randn(3, 1, 1);
        GradCheck.check("kron 1x1", in -> Kron.kron(in[0], in[1]), one, a);
        Tensor frozen = Tensor.of(new double[] {1, -2, 0.5}, 3, 1);
        GradCheck.check("kron frozen b", in -> Kron.kron(in[0], in[1]), a, frozen);
        assertNull(frozen.grad());
    }

    @Test
    void kronSumIsSumOfKrons() {
        Tensor a = GradCheck.randn(4, 3, 2, 3).detach();
        Tensor b = GradCheck.randn(5, 3, 4, 5).detach();
        Tensor expected = Kron.kron(a.select(0, 0), b.select(0, 0));
        for (int i = 1; i < 3; i++) expected = Elementwise.add(expected, Kron.kron(a.select(0, i), b.select(0, i)));
        assertClose(expected.toDoubleArray(), Kron.kronSum(a, b).toDoubleArray(), 1e-12);
        assertArrayEquals(new int[] {8, 15}, Kron.kronSum(a, b).shape());
    }

    @Test
    void kronSumGradients() {
        Tensor a = GradCheck.randn(6, 3, 2, 3);
        Tensor b = GradCheck.randn(7, 3, 3, 1);
        GradCheck.check("kronSum", in -> Kron.kronSum(in[0], in[1]), a, b);
        GradCheck.check("kronSum permuted", in -> Kron.kronSum(in[0].permute(0, 2, 1), in[1].transpose(1, 2)), a, b);
        Tensor a1 = GradCheck.randn(8, 1, 1, 1);
        Tensor b1 = GradCheck.randn(9, 1, 2, 5);
        GradCheck.check("kronSum n=1", in -> Kron.kronSum(in[0], in[1]), a1, b1);
    }

    @Test
    void f32MatchesF64() {
        // Compacter-sized PHM weight: n = 4, A [4, 4, 4], B [4, 48, 3] → [192, 12]
        Tensor a = ShapesTest.randomF32(1, 4, 4, 4), b = ShapesTest.randomF32(2, 4, 48, 3);
        Tensor ad = a.to(DType.F64), bd = b.to(DType.F64);
        assertClose(Kron.kronSum(ad, bd).toDoubleArray(), toDoubles(Kron.kronSum(a, b)), 1e-5);
        Tensor x = ShapesTest.randomF32(3, 17, 9), y = ShapesTest.randomF32(4, 23, 31);
        assertClose(Kron.kron(x.to(DType.F64), y.to(DType.F64)).toDoubleArray(), toDoubles(Kron.kron(x, y)), 1e-6);
    }

    @Test
    void badShapesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Kron.kron(Tensor.zeros(2), Tensor.zeros(2, 2)));
        assertTrue(e.getMessage().contains("[2]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Kron.kronSum(Tensor.zeros(2, 2, 2), Tensor.zeros(3, 2, 2)));
    }

    private static double[] toDoubles(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    private static void assertClose(double[] expected, double[] actual, double tol) {
        double err = GradCheck.relError(actual, expected);
        assertTrue(err < tol, "relative error " + err);
    }
}
