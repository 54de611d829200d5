package org.peft4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.peft4j.autograd.GradMode;
import org.peft4j.ops.Elementwise;
import org.peft4j.testing.GradCheck;

class TensorTest {
    @Test
    void viewsShareStorage() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        Tensor tt = t.transpose(0, 1);
        assertArrayEquals(new int[] {3, 2}, tt.shape());
        assertEquals(4, tt.get(0, 1));
        assertEquals(6, t.narrow(1, 1, 2).get(1, 1));
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, tt.contiguous().toFloatArray());
        Tensor row = Tensor.of(new float[] {7, 8, 9}, 1, 3).expand(4, 3);
        assertEquals(9, row.get(3, 2));
        assertThrows(IllegalArgumentException.class, () -> t.reshape(4, 2).expand(4, 3));
    }

    @Test
    void frozenInputsRecordNothing() {
        Tensor a = Tensor.ones(2, 2), b = Tensor.ones(2, 2);
        Tensor c = Elementwise.add(a, b);
        assertNull(c.gradFn());
        Tensor p = Tensor.ones(2, 2).requiresGrad(true);
        try (var s = GradMode.noGrad()) {
            assertNull(Elementwise.add(a, p).gradFn());
        }
        assertEquals("add", Elementwise.add(a, p).gradFn().op());
    }

    @Test
    void gradientsAccumulateUntilZeroed() {
        Tensor p = Tensor.of(new double[] {1, 2}, 2).requiresGrad(true);
        Tensor w = Tensor.of(new double[] {3, 4}, 2);
        org.peft4j.autograd.Autograd.backward(Elementwise.add(p, p), w);
        org.peft4j.autograd.Autograd.backward(Elementwise.add(p, p), w);
        assertArrayEquals(new double[] {12, 16}, p.grad().toDoubleArray());
        p.zeroGrad();
        assertNull(p.grad());
    }

    @Test
    void viewGradients() {
        Tensor x = GradCheck.randn(1, 3, 5);
        Tensor b = GradCheck.randn(2, 5);
        GradCheck.check("transpose+narrow", in -> Elementwise.add(in[0].transpose(0, 1).narrow(0, 1, 3), in[1].narrow(0, 0, 3).unsqueeze(1)), x, b);
        GradCheck.check("permute+reshape+expand", in -> in[0].reshape(5, 3).permute(1, 0).reshape(1, 3, 5).expand(2, 3, 5), x);
        GradCheck.check("broadcast add", in -> Elementwise.add(in[0], in[1]), x, b);
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, BFloat16.toFloat(BFloat16.fromFloat(1.0f)));
        assertEquals(1.0078125f, BFloat16.toFloat(BFloat16.fromFloat(1.0078125f)));
        // halfway between 1.0 and 1.0078125 ties to even (1.0)
        assertEquals(1.0f, BFloat16.toFloat(BFloat16.fromFloat(1.00390625f)));
    }
}
