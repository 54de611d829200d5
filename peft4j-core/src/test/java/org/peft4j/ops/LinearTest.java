package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.tensor.kernels.Gemm;
import org.peft4j.testing.GradCheck;

class LinearTest {
    @Test
    void gradCheckWithAndWithoutBias() {
        GradCheck.check("linear with bias", in -> Linear.linear(in[0], in[1], in[2]),
                GradCheck.randn(1, 3, 5), GradCheck.randn(2, 4, 5), GradCheck.randn(3, 4));
        GradCheck.check("linear 3-D without bias", in -> Linear.linear(in[0], in[1], null),
                GradCheck.randn(4, 2, 3, 5), GradCheck.randn(5, 7, 5));
        GradCheck.check("linear of a vector", in -> Linear.linear(in[0], in[1], in[2]),
                GradCheck.randn(6, 5), GradCheck.randn(7, 1, 5), GradCheck.randn(8, 1));
    }

    @Test
    void gradCheckWithEachInputFrozen() {
        for (int frozen = 0; frozen < 3; frozen++) {
            Tensor[] in = {GradCheck.randn(10, 3, 6), GradCheck.randn(11, 5, 6), GradCheck.randn(12, 5)};
            in[frozen].requiresGrad(false);
            GradCheck.check("linear, input " + frozen + " frozen", t -> Linear.linear(t[0], t[1], t[2]), in);
            assertNull(in[frozen].grad());
        }
        Tensor x = GradCheck.randn(13, 3, 6).requiresGrad(false), b = GradCheck.randn(15, 5).requiresGrad(false);
        GradCheck.check("linear, only the weight trains", t -> Linear.linear(t[0], t[1], t[2]), x, GradCheck.randn(14, 5, 6), b);
    }

    @Test
    void gradCheckOnStridedInputs() {
        // a transposed 2-D input (read in place) and a permuted 3-D one (copied to fold its rows)
        GradCheck.check("linear of a transposed input", in -> Linear.linear(in[0].transpose(0, 1), in[1], in[2]),
                GradCheck.randn(20, 5, 3), GradCheck.randn(21, 4, 5), GradCheck.randn(22, 4));
        GradCheck.check("linear of a permuted input", in -> Linear.linear(in[0].transpose(0, 1), in[1], null),
                GradCheck.randn(23, 3, 2, 5), GradCheck.randn(24, 4, 5));
        GradCheck.check("linear with a transposed weight view", in -> Linear.linear(in[0], in[1].transpose(0, 1), null),
                GradCheck.randn(25, 2, 5), GradCheck.randn(26, 5, 3));
    }

    @Test
    void halfPrecisionWeightsMatchFloat64() {
        int out = 37, in = 70;
        Tensor x64 = rounded(GradCheck.randn(30, 2, 19, in).detach());
        Tensor b64 = rounded(GradCheck.randn(31, out).detach());
        Tensor w64 = GradCheck.randn(32, out, in).detach();
        Tensor g64 = rounded(GradCheck.randn(33, 2, 19, out).detach());
        for (DType storage : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            try (Arena arena = Arena.ofConfined()) {
                // the weight off-heap, as a memory-mapped checkpoint would give it
                MemorySegment seg = arena.allocate((long) out * in * storage.byteSize());
                Tensor w = Tensor.wrap(seg, storage, out, in);
                for (int i = 0; i < out * in; i++) w.setStorage(i, w64.getFlat(i));
                Tensor wExact = w.detachedCopy(DType.F64);

                Tensor x32 = x64.detachedCopy(DType.F32).requiresGrad(true), b32 = b64.detachedCopy(DType.F32).requiresGrad(true);
                Tensor xr = x64.detachedCopy(DType.F64).requiresGrad(true), br = b64.detachedCopy(DType.F64).requiresGrad(true);
                Tensor got = Linear.linear(x32, w, b32), expected = Linear.linear(xr, wExact, br);
                assertEquals(DType.F32, got.dtype());
                assertArrayEquals(new int[] {2, 19, out}, got.shape());
                assertTrue(GradCheck.relError(got.toDoubleArray(), expected.toDoubleArray()) < 1e-5, storage + " forward");

                Autograd.backward(got, g64.detachedCopy(DType.F32));
                Autograd.backward(expected, g64);
                assertTrue(GradCheck.relError(x32.grad().toDoubleArray(), xr.grad().toDoubleArray()) < 1e-5, storage + " dx");
                assertTrue(GradCheck.relError(b32.grad().toDoubleArray(), br.grad().toDoubleArray()) < 1e-5, storage + " db");
                assertNull(w.grad());
            }
        }
    }

    @Test
    void weightGradientMatchesFloat64() {
        Tensor x64 = rounded(GradCheck.randn(40, 45, 33).detach()), w64 = rounded(GradCheck.randn(41, 18, 33).detach());
        Tensor g64 = rounded(GradCheck.randn(42, 45, 18).detach());
        Tensor w32 = w64.detachedCopy(DType.F32).requiresGrad(true), wr = w64.detachedCopy(DType.F64).requiresGrad(true);
        Autograd.backward(Linear.linear(x64.detachedCopy(DType.F32), w32, null), g64.detachedCopy(DType.F32));
        Autograd.backward(Linear.linear(x64, wr, null), g64);
        assertTrue(GradCheck.relError(w32.grad().toDoubleArray(), wr.grad().toDoubleArray()) < 1e-5);
    }

    @Test
    void frozenWeightNeverRunsTheWeightGradientGemm() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        Tensor w = Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3);
        Tensor b = Tensor.of(new float[] {0.5f, -0.5f}, 2).requiresGrad(true);
        Tensor y = Linear.linear(x, w, b);
        assertArrayEquals(new float[] {1.5f, 1.5f, 4.5f, 4.5f}, y.toFloatArray());
        long before = Gemm.callCount();
        Autograd.backward(y, Tensor.ones(2, 2));
        assertEquals(1, Gemm.callCount() - before, "only dx = dy·W may run");
        assertNull(w.grad());
        assertArrayEquals(new float[] {1, 1, 0, 1, 1, 0}, x.grad().toFloatArray());
        assertArrayEquals(new float[] {2, 2}, b.grad().toFloatArray());

        // a trainable weight under a frozen input: one GEMM again, now dW
        Tensor xf = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor wt = Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3).requiresGrad(true);
        Tensor y2 = Linear.linear(xf, wt, null);
        before = Gemm.callCount();
        Autograd.backward(y2, Tensor.ones(2, 2));
        assertEquals(1, Gemm.callCount() - before);
        assertNotNull(wt.grad());
        assertArrayEquals(new float[] {5, 7, 9, 5, 7, 9}, wt.grad().toFloatArray());
        assertNull(xf.grad());
    }

    @Test
    void rejectsMismatchedShapes() {
        assertThrows(IllegalArgumentException.class, () -> Linear.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 2), null));
        assertThrows(IllegalArgumentException.class, () -> Linear.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 3), Tensor.zeros(3)));
        assertThrows(IllegalArgumentException.class, () -> Linear.linear(Tensor.zeros(2, 3), Tensor.zeros(3), null));
    }

    private static Tensor rounded(Tensor t) {
        return t.detachedCopy(DType.F32).detachedCopy(DType.F64);
    }
}
