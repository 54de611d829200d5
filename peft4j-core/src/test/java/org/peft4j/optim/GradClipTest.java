package org.peft4j.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.peft4j.optim.AdamWTest.param;
import static org.peft4j.optim.AdamWTest.setGrad;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.Tensor;

class GradClipTest {
    /** Gradients [3, 4] and [12] have global norm √(9 + 16 + 144) = 13. */
    @Test
    void clipsToMaxNormWithTorchEpsilon() {
        Tensor a = param(0f, 0f), b = param(0.0), none = param(1.0);
        setGrad(a, 3, 4);
        setGrad(b, 12);
        double total = GradClip.clipGlobalNorm(List.of(a, b, none), 6.5);
        assertEquals(13.0, total, 1e-12);
        double coef = 6.5 / (13.0 + 1e-6);
        assertArrayEquals(new float[] {(float) (3 * coef), (float) (4 * coef)}, a.grad().toFloatArray(), 1e-7f);
        assertArrayEquals(new double[] {12 * coef}, b.grad().toDoubleArray(), 1e-12);
        assertEquals(6.5, Math.sqrt(9 + 16 + 144) * coef, 1e-6);
    }

    @Test
    void smallGradientsAreLeftAlone() {
        Tensor a = param(0f, 0f);
        setGrad(a, 3, 4);
        assertEquals(5.0, GradClip.clipGlobalNorm(List.of(a), 5.0), 1e-12); // coef 5/(5+1e-6) < 1: scaled a hair
        assertArrayEquals(new float[] {3 * (float) (5 / (5 + 1e-6)), 4 * (float) (5 / (5 + 1e-6))},
                a.grad().toFloatArray(), 1e-7f);
        setGrad(a, 3, 4);
        GradClip.clipGlobalNorm(List.of(a), 10.0);
        assertArrayEquals(new float[] {3, 4}, a.grad().toFloatArray());
    }

    @Test
    void noGradientsGiveZero() {
        assertEquals(0.0, GradClip.clipGlobalNorm(List.of(param(1.0)), 1.0));
        assertThrows(IllegalArgumentException.class, () -> GradClip.clipGlobalNorm(List.of(), 0));
    }
}
