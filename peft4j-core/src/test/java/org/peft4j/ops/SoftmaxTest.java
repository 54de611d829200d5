package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class SoftmaxTest {
    @Test
    void gradientsOnAwkwardShapes() {
        int[][] shapes = {{1, 1}, {3, 5}, {2, 3, 7}, {4, 17}};
        for (int[] shape : shapes) {
            Tensor x = GradCheck.randn(shape.length * 31L + shape[shape.length - 1], shape);
            for (int axis = -1; axis < shape.length - 1; axis++) {
                int a = axis;
                GradCheck.check("softmax axis " + a, in -> Softmax.softmax(in[0], a), x);
                GradCheck.check("logSoftmax axis " + a, in -> Softmax.logSoftmax(in[0], a), x);
            }
        }
    }

    @Test
    void attentionStyleMaskWithFullyMaskedRows() {
        // [B, H, T, S] scores with a [B, 1, 1, S] padding mask; batch 1 masks every key.
        Tensor x = GradCheck.randn(3, 2, 3, 4, 5);
        Tensor mask = Tensor.of(new long[] {1, 1, 0, 1, 0, 0, 0, 0, 0, 0}, 2, 1, 1, 5);
        GradCheck.check("masked softmax", in -> Softmax.softmax(in[0], -1, mask), x);
        Tensor p = Softmax.softmax(x.detach(), -1, mask);
        for (int h = 0; h < 3; h++) {
            for (int t = 0; t < 4; t++) {
                assertEquals(0.0, p.get(0, h, t, 2));
                assertEquals(0.0, p.get(0, h, t, 4));
                assertEquals(1.0, p.get(0, h, t, 0) + p.get(0, h, t, 1) + p.get(0, h, t, 3), 1e-12);
                for (int s = 0; s < 5; s++) assertEquals(0.0, p.get(1, h, t, s));
            }
        }
    }

    @Test
    void maskBroadcastAlongTheSoftmaxAxis() {
        // A [B, 1, T, 1] query mask drops whole rows: softmax and log-softmax give 0 there, no NaN.
        Tensor x = GradCheck.randn(4, 2, 2, 3, 4);
        Tensor mask = Tensor.of(new float[] {1, 0, 1, 0, 0, 1}, 2, 1, 3, 1);
        GradCheck.check("row-masked softmax", in -> Softmax.softmax(in[0], 3, mask), x);
        GradCheck.check("row-masked logSoftmax", in -> Softmax.logSoftmax(in[0], 3, mask), x);
        Tensor lp = Softmax.logSoftmax(x.detach(), -1, mask);
        for (int s = 0; s < 4; s++) assertEquals(0.0, lp.get(1, 1, 0, s));
    }

    @Test
    void maskOnAnotherAxis() {
        Tensor x = GradCheck.randn(5, 2, 3, 7);
        Tensor mask = Tensor.of(new long[] {1, 0, 1}, 3, 1);
        GradCheck.check("masked softmax axis 1", in -> Softmax.softmax(in[0], 1, mask), x);
        Tensor p = Softmax.softmax(x.detach(), 1, mask);
        assertEquals(0.0, p.get(1, 1, 4));
        assertEquals(1.0, p.get(1, 0, 4) + p.get(1, 2, 4), 1e-12);
    }

    @Test
    void maskedLogSoftmaxMatchesLogSoftmaxOfTheKeptElements() {
        Tensor x = GradCheck.randn(6, 3, 7);
        Tensor mask = Tensor.of(new long[] {0, 1, 1, 1, 1, 0, 0}, 7);
        Tensor kept = GradCheck.randn(6, 3, 7);
        Tensor lp = Softmax.logSoftmax(x, -1, mask);
        Tensor ref = Softmax.logSoftmax(kept.narrow(1, 1, 4), -1);
        Tensor g = GradCheck.randn(7, 3, 7).detach();
        Autograd.backward(lp, g);
        Autograd.backward(ref, g.narrow(1, 1, 4).contiguous());
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 7; c++) {
                boolean keep = c >= 1 && c <= 4;
                if (keep) {
                    assertEquals(ref.get(r, c - 1), lp.get(r, c), 1e-12);
                    assertEquals(kept.grad().get(r, c), x.grad().get(r, c), 1e-12);
                } else {
                    assertEquals(Double.NEGATIVE_INFINITY, lp.get(r, c));
                    assertEquals(0.0, x.grad().get(r, c));
                }
            }
        }
    }

    @Test
    void rowsSumToOneAndLargeLogitsStayFinite() {
        Tensor x = random(DType.F32, 8, 64, 389);
        for (int i = 0; i < 389; i += 5) x.set(1000 + 10 * i, 3, i);
        Tensor p = Softmax.softmax(x, -1);
        for (int r = 0; r < 64; r++) {
            double sum = 0;
            for (int c = 0; c < 389; c++) sum += p.get(r, c);
            assertEquals(1.0, sum, 1e-5);
        }
        assertEquals(1.0, p.get(3, 385), 1e-6);
        Tensor big = Tensor.of(new float[] {1000, 1001, -1000}, 1, 3);
        double e = Math.exp(-1);
        assertArrayEquals(new float[] {(float) (e / (1 + e)), (float) (1 / (1 + e)), 0},
                Softmax.softmax(big, -1).toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {(float) -Math.log1p(1 / e), (float) -Math.log1p(e)},
                Softmax.logSoftmax(big.narrow(1, 0, 2), -1).toFloatArray(), 1e-5f);
    }

    @Test
    void f32MatchesF64() {
        Tensor x64 = random(DType.F64, 9, 2, 4, 48, 389);
        Tensor mask = Tensor.zeros(DType.BOOL, 2, 1, 1, 389);
        Random r = new Random(10);
        for (int s = 0; s < 389; s++) mask.set(r.nextInt(4) == 0 ? 0 : 1, 0, 0, 0, s);
        Tensor g64 = random(DType.F64, 11, 2, 4, 48, 389).detach();
        for (boolean log : new boolean[] {false, true}) {
            for (int axis : new int[] {-1, 2}) {
                for (Tensor m : new Tensor[] {null, mask}) {
                    Tensor x32 = x64.detach().to(DType.F32).requiresGrad(true);
                    x64.zeroGrad();
                    Tensor y64 = log ? Softmax.logSoftmax(x64, axis, m) : Softmax.softmax(x64, axis, m);
                    Tensor y32 = log ? Softmax.logSoftmax(x32, axis, m) : Softmax.softmax(x32, axis, m);
                    assertEquals(DType.F32, y32.dtype());
                    Autograd.backward(y64, g64);
                    Autograd.backward(y32, g64.to(DType.F32));
                    String what = (log ? "logSoftmax" : "softmax") + " axis " + axis + (m == null ? "" : " masked");
                    assertClose(what, y64.toDoubleArray(), y32.toDoubleArray());
                    assertClose(what + " grad", x64.grad().toDoubleArray(), x32.grad().toDoubleArray());
                }
            }
        }
    }

    @Test
    void frozenInputRecordsNothingAndBadMaskIsRejected() {
        Tensor x = random(DType.F32, 12, 3, 5);
        assertNull(Softmax.softmax(x, -1).gradFn());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Softmax.softmax(x, -1, Tensor.ones(2, 5)));
        assertTrue(e.getMessage().contains("[2, 5]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Softmax.softmax(Tensor.of(new long[] {1}, 1), 0));
    }

    static Tensor random(DType type, long seed, int... shape) {
        Tensor t = GradCheck.randn(seed, shape);
        return type == DType.F64 ? t : t.detach().to(type);
    }

    /** Relative error below 1e-5 over the finite entries; -inf (masked log-probabilities) must match exactly. */
    static void assertClose(String what, double[] expected, double[] actual) {
        expected = expected.clone();
        actual = actual.clone();
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] == Double.NEGATIVE_INFINITY) {
                assertEquals(expected[i], actual[i], what + " element " + i);
                expected[i] = actual[i] = 0;
            }
        }
        double err = GradCheck.relError(actual, expected);
        assertTrue(err < 1e-5, what + ": relative error " + err);
    }
}
