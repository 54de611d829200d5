package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.kernels.Gemm;
import org.peft4j.testing.GradCheck;

class MatMulTest {
    @Test
    void gradCheck2d() {
        GradCheck.check("matmul 2-D", in -> MatMul.matmul(in[0], in[1]), GradCheck.randn(1, 3, 7), GradCheck.randn(2, 7, 5));
        GradCheck.check("matmul 1×1", in -> MatMul.matmul(in[0], in[1]), GradCheck.randn(3, 1, 1), GradCheck.randn(4, 1, 3));
    }

    @Test
    void gradCheckBatched() {
        GradCheck.check("matmul batched", in -> MatMul.matmul(in[0], in[1]),
                GradCheck.randn(5, 2, 3, 4), GradCheck.randn(6, 2, 4, 5));
        // b shared by every batch: the forward folds the batch into rows, dB folds it into the depth.
        GradCheck.check("matmul batched × 2-D", in -> MatMul.matmul(in[0], in[1]),
                GradCheck.randn(7, 2, 3, 4), GradCheck.randn(8, 4, 5));
    }

    @Test
    void gradCheckBroadcastBatch() {
        GradCheck.check("matmul broadcast", in -> MatMul.matmul(in[0], in[1]),
                GradCheck.randn(9, 2, 1, 3, 4), GradCheck.randn(10, 3, 4, 5));
        GradCheck.check("matmul 2-D × batched", in -> MatMul.matmul(in[0], in[1]),
                GradCheck.randn(11, 3, 4), GradCheck.randn(12, 2, 4, 3));
    }

    @Test
    void gradCheckTransposedViewsAndVectors() {
        GradCheck.check("matmul transposed views", in -> MatMul.matmul(in[0].transpose(0, 1), in[1].transpose(0, 1)),
                GradCheck.randn(13, 4, 3), GradCheck.randn(14, 5, 4));
        GradCheck.check("matmul batched transposed", in -> MatMul.matmul(in[0], in[1].transpose(-1, -2)),
                GradCheck.randn(15, 2, 3, 4), GradCheck.randn(16, 2, 5, 4));
        GradCheck.check("vector × matrix", in -> MatMul.matmul(in[0], in[1]), GradCheck.randn(17, 4), GradCheck.randn(18, 4, 3));
        GradCheck.check("matrix × vector", in -> MatMul.matmul(in[0], in[1]), GradCheck.randn(19, 3, 4), GradCheck.randn(20, 4));
        Tensor dot = MatMul.matmul(Tensor.of(new float[] {1, 2, 3}, 3), Tensor.of(new float[] {4, 5, 6}, 3));
        assertEquals(0, dot.dim());
        assertEquals(32, dot.item(), 1e-6);
    }

    @Test
    void float32MatchesFloat64OnVectorSizedShapes() {
        // (a shape, b shape, transpose b's last two dims first)
        int[][][] cases = {
            {{37, 65}, {65, 33}},
            {{2, 37, 65}, {65, 70}},
            {{3, 1, 17, 40}, {2, 40, 33}},
            {{4, 33, 9}, {4, 9, 129}},
        };
        long seed = 100;
        for (int[][] c : cases) {
            for (boolean transposeB : new boolean[] {false, true}) {
                Tensor a64 = rounded(GradCheck.randn(seed++, c[0]).detach());
                int[] bs = c[1].clone();
                if (transposeB) {
                    int t = bs[bs.length - 1];
                    bs[bs.length - 1] = bs[bs.length - 2];
                    bs[bs.length - 2] = t;
                }
                Tensor b64 = rounded(GradCheck.randn(seed++, bs).detach());
                if (transposeB) b64 = b64.transpose(-1, -2);
                Tensor a32 = a64.detachedCopy(DType.F32), b32 = transposeB
                        ? b64.transpose(-1, -2).detachedCopy(DType.F32).transpose(-1, -2) : b64.detachedCopy(DType.F32);
                Tensor expected = MatMul.matmul(a64, b64), got = MatMul.matmul(a32, b32);
                assertEquals(DType.F32, got.dtype());
                assertArrayEquals(expected.shape(), got.shape());
                double err = GradCheck.relError(got.toDoubleArray(), expected.toDoubleArray());
                assertTrue(err < 1e-5, "relative error " + err + " for " + java.util.Arrays.deepToString(c));
            }
        }
    }

    @Test
    void float32GradientsMatchFloat64() {
        Tensor a64 = rounded(GradCheck.randn(31, 3, 20, 45).detach()).requiresGrad(true);
        Tensor b64 = rounded(GradCheck.randn(32, 45, 19).detach()).requiresGrad(true);
        Tensor a32 = a64.detachedCopy(DType.F32).requiresGrad(true), b32 = b64.detachedCopy(DType.F32).requiresGrad(true);
        Tensor g64 = rounded(GradCheck.randn(33, 3, 20, 19).detach());
        Autograd.backward(MatMul.matmul(a64, b64), g64);
        Autograd.backward(MatMul.matmul(a32, b32), g64.detachedCopy(DType.F32));
        assertTrue(GradCheck.relError(a32.grad().toDoubleArray(), a64.grad().toDoubleArray()) < 1e-5);
        assertTrue(GradCheck.relError(b32.grad().toDoubleArray(), b64.grad().toDoubleArray()) < 1e-5);
    }

    @Test
    void frozenOperandGetsNoGradientAndNoGemm() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        Tensor b = Tensor.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
        Tensor c = MatMul.matmul(a, b);
        long before = Gemm.callCount();
        Autograd.backward(c, Tensor.ones(2, 2));
        assertEquals(1, Gemm.callCount() - before, "only dA = dC·Bᵀ may run");
        assertNull(b.grad());
        assertNotNull(a.grad());
        assertArrayEquals(new float[] {1, 1, 2, 1, 1, 2}, a.grad().toFloatArray());
    }

    @Test
    void rejectsShapesThatDoNotChain() {
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(Tensor.zeros(2, 3), Tensor.zeros(4, 2)));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(Tensor.zeros(2, 2, 3), Tensor.zeros(3, 3, 2)));
    }

    /** The same values rounded to float, kept in F64, so F32 and F64 products start from equal inputs. */
    private static Tensor rounded(Tensor t) {
        return t.detachedCopy(DType.F32).detachedCopy(DType.F64);
    }
}
