package org.peft4j.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.autograd.Autograd;
import org.peft4j.tensor.DType;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class LossesTest {
    @Test
    void gradients() {
        for (int[] shape : new int[][] {{1}, {3, 5}, {17}, {2, 1, 7}}) {
            GradCheck.check("mse", in -> Losses.mse(in[0], in[1]), GradCheck.randn(1, shape), GradCheck.randn(2, shape));
            Tensor target = GradCheck.randn(3, shape).detach();
            GradCheck.check("mse frozen target", in -> Losses.mse(in[0], in[1]), GradCheck.randn(4, shape), target);
            assertNull(target.grad());
            GradCheck.check("mse frozen pred", in -> Losses.mse(in[0], in[1]), GradCheck.randn(5, shape).detach(),
                    GradCheck.randn(6, shape));
        }
    }

    @Test
    void valueAndShape() {
        Tensor p = Tensor.of(new double[] {1, 2, 3, 4}, 2, 2), t = Tensor.of(new double[] {0, 2, 5, 4}, 2, 2);
        Tensor loss = Losses.mse(p, t);
        assertArrayEquals(new int[] {}, loss.shape());
        assertEquals(1.25, loss.item(), 1e-15);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Losses.mse(Tensor.zeros(4, 1), Tensor.zeros(4)));
        assertTrue(e.getMessage().contains("[4, 1]") && e.getMessage().contains("[4]"), e.getMessage());
    }

    @Test
    void float32MatchesFloat64() {
        for (int[] shape : new int[][] {{37, 129}, {300_007}}) {
            Tensor p = ElementwiseTest.randnF32(11, 1, 0, shape), t = ElementwiseTest.randnF32(12, 1, 0.2, shape);
            Tensor p64 = p.detachedCopy(DType.F64), t64 = t.detachedCopy(DType.F64);
            double l32 = Losses.mse(p, t).item(), l64 = Losses.mse(p64, t64).item();
            assertEquals(l64, l32, 1e-6 * l64);
            Tensor pg = p.detachedCopy(DType.F32).requiresGrad(true), tg = t.detachedCopy(DType.F32).requiresGrad(true);
            Tensor pg64 = p64.detachedCopy(DType.F64).requiresGrad(true);
            Autograd.backward(Losses.mse(pg, tg));
            Autograd.backward(Losses.mse(pg64, t64));
            assertTrue(GradCheck.relError(pg.grad().toDoubleArray(), pg64.grad().toDoubleArray()) < 1e-6);
            double[] gt = tg.grad().toDoubleArray(), gp = pg.grad().toDoubleArray();
            for (int i = 0; i < gt.length; i++) assertEquals(-gp[i], gt[i], 0);
        }
    }
}
