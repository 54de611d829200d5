package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class RotaryTest {

    @Test
    void tablesHoldCosAndSinOfPositionTimesFrequency() {
        Rotary.Tables t = Rotary.tables(5, 8, 10000, 1);
        assertArrayEquals(new int[] {5, 8}, t.cos().shape());
        // position 1: inv_freq = 1, 0.1, 0.01, 0.001, repeated for the second half
        assertEquals(0.5403023058681398, t.cos().get(0, 0), 1e-7);
        assertEquals(0.8414709848078965, t.sin().get(0, 0), 1e-7);
        assertEquals(0.9950041652780258, t.cos().get(0, 1), 1e-7);
        assertEquals(0.09983341664682815, t.sin().get(0, 5), 1e-7);
        // position 5 (offset 1 + row 4), frequency index 2
        assertEquals(Math.cos(5 * 0.01), t.cos().get(4, 6), 1e-7);
        for (int p = 0; p < 5; p++) {
            for (int i = 0; i < 8; i++) {
                double angle = (p + 1) * Math.pow(10000, -(i % 4) / 4.0);
                assertEquals(Math.cos(angle), t.cos().get(p, i), 2e-6);
                assertEquals(Math.sin(angle), t.sin().get(p, i), 2e-6);
            }
        }
    }

    @Test
    void tablesRoundFrequenciesAndAnglesToFloatLikePyTorch() {
        int d = 64, offset = 300;
        Rotary.Tables t = Rotary.tables(40, d, 500000, offset);
        for (int p = 0; p < 40; p++) {
            for (int i = 0; i < d / 2; i++) {
                float inv = 1f / (float) Math.pow(500000f, (float) (2 * i) / (float) d);
                float angle = (float) (p + offset) * inv;
                assertEquals((float) Math.cos(angle), (float) t.cos().get(p, i));
                assertEquals((float) Math.sin(angle), (float) t.sin().get(p, i + d / 2));
            }
        }
    }

    @Test
    void tablesFromPositionIdsMatchOffsetTables() {
        Tensor ids = Tensor.of(new long[] {0, 1, 2, 3, 7, 8, 9, 10}, 2, 4);
        Rotary.Tables perRow = Rotary.tables(ids, 6, 10000);
        assertArrayEquals(new int[] {2, 4, 6}, perRow.cos().shape());
        Rotary.Tables shifted = Rotary.tables(4, 6, 10000, 7);
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < 6; i++) {
                assertEquals(shifted.cos().get(t, i), perRow.cos().get(1, t, i));
                assertEquals(shifted.sin().get(t, i), perRow.sin().get(1, t, i));
            }
        }
    }

    @Test
    void applyRotatesHalves() {
        Tensor x = randomF32(1, 2, 3, 5, 6);
        Rotary.Tables t = Rotary.tables(5, 6, 10000, 2);
        assertClose(explicit(x, t.cos(), t.sin()), Rotary.apply(x, t.cos(), t.sin()).toDoubleArray(), 1e-6);
        Rotary.Tables perRow = Rotary.tables(Tensor.of(new long[] {0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 2, 5), 6, 10000);
        assertClose(explicit(x, perRow.cos(), perRow.sin()), Rotary.apply(x, perRow.cos(), perRow.sin()).toDoubleArray(), 1e-6);
    }

    @Test
    void gradients() {
        Rotary.Tables t = Rotary.tables(5, 6, 10000, 3);
        GradCheck.check("rotary", in -> Rotary.apply(in[0], t.cos(), t.sin()), GradCheck.randn(2, 2, 3, 5, 6));
        Rotary.Tables perRow = Rotary.tables(Tensor.of(new long[] {4, 5, 6, 7, 8, 0, 0, 1, 2, 3}, 2, 5), 6, 10000);
        GradCheck.check("rotary per row views", in -> Rotary.apply(in[0].transpose(1, 2), perRow.cos(), perRow.sin()),
                GradCheck.randn(3, 2, 5, 3, 6));
        // tables whose two halves differ exercise the general transpose
        Tensor cos = GradCheck.randn(4, 5, 2).detach(), sin = GradCheck.randn(5, 5, 2).detach();
        GradCheck.check("rotary general tables", in -> Rotary.apply(in[0], cos, sin), GradCheck.randn(6, 1, 2, 5, 2));
    }

    @Test
    void f32MatchesF64() {
        for (int d : new int[] {64, 6, 34}) {
            Tensor x = randomF32(7, 2, 4, 33, d).requiresGrad(true);
            Tensor x64 = x.detachedCopy(DType.F64).requiresGrad(true);
            Rotary.Tables t = Rotary.tables(Tensor.of(positions(2, 33, 5), 2, 33), d, 10000);
            Tensor y = Rotary.apply(x.transpose(1, 2).contiguous().transpose(1, 2), t.cos(), t.sin());
            Tensor y64 = Rotary.apply(x64, t.cos(), t.sin());
            assertEquals(DType.F32, y.dtype());
            assertClose(y64.toDoubleArray(), y.toDoubleArray(), 1e-6);
            Tensor w = randomF32(8, y.shape());
            Autograd.backward(y, w);
            Autograd.backward(y64, w.detachedCopy(DType.F64));
            assertClose(x64.grad().toDoubleArray(), x.grad().toDoubleArray(), 1e-6);
        }
    }

    @Test
    void rejectsBadShapes() {
        Rotary.Tables t = Rotary.tables(4, 6, 10000, 0);
        assertThrows(IllegalArgumentException.class, () -> Rotary.apply(Tensor.zeros(1, 2, 5, 6), t.cos(), t.sin()));
        assertThrows(IllegalArgumentException.class, () -> Rotary.apply(Tensor.zeros(1, 2, 4, 5), t.cos(), t.sin()));
        assertThrows(IllegalArgumentException.class, () -> Rotary.tables(4, 7, 10000, 0));
    }

    /** x·cos + rotate_half(x)·sin written out element by element. */
    private static double[] explicit(Tensor x, Tensor cos, Tensor sin) {
        int b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
        double[] out = new double[b * h * t * d];
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int ti = 0; ti < t; ti++) {
                    for (int i = 0; i < d; i++) {
                        double rotated = i < d / 2 ? -x.get(bi, hi, ti, i + d / 2) : x.get(bi, hi, ti, i - d / 2);
                        double c = cos.dim() == 3 ? cos.get(bi, ti, i) : cos.get(ti, i);
                        double s = sin.dim() == 3 ? sin.get(bi, ti, i) : sin.get(ti, i);
                        out[((bi * h + hi) * t + ti) * d + i] = x.get(bi, hi, ti, i) * c + rotated * s;
                    }
                }
            }
        }
        return out;
    }

    private static long[] positions(int b, int t, int shift) {
        long[] ids = new long[b * t];
        for (int r = 0; r < b; r++) {
            for (int i = 0; i < t; i++) ids[r * t + i] = Math.max(0, i - r * shift);
        }
        return ids;
    }

    private static void assertClose(double[] expected, double[] actual, double tol) {
        double err = GradCheck.relError(actual, expected);
        assertTrue(err < tol, "relative error " + err);
    }

    private static Tensor randomF32(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, shape);
    }
}
