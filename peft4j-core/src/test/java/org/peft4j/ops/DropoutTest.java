package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class DropoutTest {
    static Tensor ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return Tensor.of(v, n);
    }

    @Test
    void sameSeedSameMaskOtherSeedOtherMask() {
        Tensor x = ElementwiseTest.randnF32(1, 1, 0, 37, 129);
        float[] a = Dropout.apply(x, 0.3, new SplittableRandom(42), true).toFloatArray();
        float[] b = Dropout.apply(x, 0.3, new SplittableRandom(42), true).toFloatArray();
        float[] c = Dropout.apply(x, 0.3, new SplittableRandom(43), true).toFloatArray();
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, c));
        // Successive calls on one generator draw fresh masks.
        SplittableRandom rng = new SplittableRandom(42);
        assertFalse(Arrays.equals(Dropout.apply(x, 0.3, rng, true).toFloatArray(), Dropout.apply(x, 0.3, rng, true).toFloatArray()));
    }

    /** The documented mask, computed one element at a time with scalar SplitMix64. */
    static boolean referenceKept(long seed, double p, int i) {
        int word = i / 64, e = i % 64;
        long z = seed + (word * 32L + e % 32) * 0x9e3779b97f4a7c15L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        z ^= z >>> 31;
        long u = e < 32 ? z & 0xffffffffL : z >>> 32;
        return u >= Math.round(p * 0x1p32);
    }

    @Test
    void maskIsTheDocumentedHashWhateverTheVectorWidth() {
        int n = 1000;
        Tensor x = ones(n);
        long seed = new SplittableRandom(77).nextLong();
        float[] y = Dropout.apply(x, 0.35, new SplittableRandom(77), true).toFloatArray();
        for (int i = 0; i < n; i++) assertEquals(referenceKept(seed, 0.35, i), y[i] != 0, "element " + i);
    }

    @Test
    void keptFractionScaleAndExpectedValue() {
        int n = 200_003;
        for (double p : new double[] {0.1, 0.3, 0.5, 0.9}) {
            float[] y = Dropout.apply(ones(n), p, new SplittableRandom(7), true).toFloatArray();
            float scale = (float) (1 / (1 - p));
            int kept = 0;
            double sum = 0;
            for (float v : y) {
                if (v != 0) {
                    kept++;
                    assertEquals(scale, v);
                }
                sum += v;
            }
            double sd = Math.sqrt(p * (1 - p) / n);
            assertEquals(1 - p, (double) kept / n, 5 * sd, "kept fraction at p=" + p);
            assertEquals(1, sum / n, 5 * sd * scale, "mean at p=" + p);
        }
    }

    @Test
    void identityWhenNotTrainingOrPZeroAndZerosAtPOne() {
        Tensor x = ElementwiseTest.randnF32(2, 1, 0, 5, 7);
        assertSame(x, Dropout.apply(x, 0.5, new SplittableRandom(1), false));
        assertSame(x, Dropout.apply(x, 0, new SplittableRandom(1), true));
        Tensor zero = Dropout.apply(x, 1, new SplittableRandom(1), true);
        for (float v : zero.toFloatArray()) assertEquals(0f, v);
        assertThrows(IllegalArgumentException.class, () -> Dropout.apply(x, 1.5, new SplittableRandom(1), true));
        assertThrows(IllegalArgumentException.class, () -> Dropout.apply(x, -0.1, new SplittableRandom(1), true));
    }

    @Test
    void float32AndFloat64ShareTheMaskIncludingTails() {
        for (int[] shape : new int[][] {{17, 13}, {1000}, {64}, {1}}) {
            Tensor x32 = ElementwiseTest.randnF32(3, 1, 0, shape);
            Tensor x64 = x32.detachedCopy(DType.F64);
            double[] a = Dropout.apply(x32, 0.4, new SplittableRandom(5), true).toDoubleArray();
            double[] b = Dropout.apply(x64, 0.4, new SplittableRandom(5), true).toDoubleArray();
            for (int i = 0; i < a.length; i++) {
                assertEquals(b[i] == 0, a[i] == 0, "mask differs at " + i);
                assertEquals(b[i], a[i], 1e-6 * Math.abs(b[i]));
            }
        }
    }

    @Test
    void backwardUsesTheSameMask() {
        GradCheck.check("dropout", in -> Dropout.apply(in[0], 0.4, new SplittableRandom(9), true), GradCheck.randn(1, 3, 5));
        GradCheck.check("dropout odd", in -> Dropout.apply(in[0], 0.25, new SplittableRandom(9), true), GradCheck.randn(2, 67));
        Tensor x = ElementwiseTest.randnF32(4, 1, 1e-3, 33, 70).requiresGrad(true);
        Tensor y = Dropout.apply(x, 0.2, new SplittableRandom(11), true);
        Tensor g = ElementwiseTest.randnF32(5, 1, 0, 33, 70);
        Autograd.backward(y, g);
        float scale = (float) (1 / 0.8);
        for (int i = 0; i < x.numel(); i++) {
            double expected = y.getFlat(i) == 0 ? 0 : (float) g.getFlat(i) * scale;
            assertEquals(expected, x.grad().getFlat(i), 0, "element " + i);
        }
        assertTrue(y.gradFn() != null);
    }
}
