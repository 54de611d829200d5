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

class CrossEntropyTest {
    private static final int IGNORE = -100;

    @Test
    void valueMatchesHandComputation() {
        Tensor logits = Tensor.of(new double[] {1, 2, 3, 1, 1, 1, 5, 0, 0}, 3, 3);
        Tensor targets = Tensor.of(new long[] {2, 0, IGNORE}, 3);
        double row0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3;
        double row1 = Math.log(3);
        Tensor loss = CrossEntropy.loss(logits, targets, IGNORE);
        assertEquals(0, loss.dim());
        assertEquals((row0 + row1) / 2, loss.item(), 1e-12);
        assertEquals((row0 + row1) / 2, CrossEntropy.loss(logits.detach().to(DType.F32), targets).item(), 1e-6);
    }

    @Test
    void gradientsWithIgnoredRows() {
        checkLoss(new int[] {1, 1}, new long[] {0});
        checkLoss(new int[] {3, 5}, new long[] {4, IGNORE, 0});
        checkLoss(new int[] {4, 17}, new long[] {16, 3, IGNORE, 9});
        checkLoss(new int[] {2, 3, 7}, new long[] {6, 0, IGNORE, 2, 2, 5});
    }

    private static void checkLoss(int[] shape, long[] targets) {
        int[] lead = java.util.Arrays.copyOf(shape, shape.length - 1);
        Tensor t = Tensor.of(targets, lead);
        Tensor x = GradCheck.randn(shape[shape.length - 1] + 7L * shape.length, shape);
        GradCheck.check("crossEntropy " + java.util.Arrays.toString(shape), in -> CrossEntropy.loss(in[0], t, IGNORE), x);
    }

    @Test
    void allRowsIgnoredGivesZeroWithZeroGradient() {
        Tensor x = GradCheck.randn(1, 2, 4);
        Tensor loss = CrossEntropy.loss(x, Tensor.of(new long[] {IGNORE, IGNORE}, 2), IGNORE);
        assertEquals(0.0, loss.item());
        loss.backward();
        assertArrayEquals(new double[8], x.grad().toDoubleArray());
    }

    @Test
    void badTargetsAreRejected() {
        Tensor x = Tensor.zeros(2, 3, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.loss(x, Tensor.of(new long[] {0, 1, 2, 3, 5, 4}, 2, 3), IGNORE));
        assertTrue(e.getMessage().contains("row 4") && e.getMessage().contains("= 5"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.loss(x, Tensor.of(new long[] {0, 1, -1, 3, 4, 4}, 2, 3), IGNORE));
        assertThrows(IllegalArgumentException.class, () -> CrossEntropy.loss(x, Tensor.of(new long[] {0, 1}, 2), IGNORE));
        assertThrows(IllegalArgumentException.class, () -> CrossEntropy.loss(x, Tensor.zeros(2, 3), IGNORE));
        e = assertThrows(IllegalArgumentException.class,
                () -> CrossEntropy.causalLm(x, Tensor.of(new long[] {0, 1, 2, 3, 4, 9}, 2, 3), IGNORE));
        assertTrue(e.getMessage().contains("labels[1, 2]"), e.getMessage());
        // The label at position 0 is never predicted, so it may be anything.
        CrossEntropy.causalLm(x, Tensor.of(new long[] {77, 1, 2, 77, 4, 0}, 2, 3), IGNORE);
    }

    @Test
    void causalLmIsTheShiftedLoss() {
        Tensor logits = GradCheck.randn(3, 2, 4, 5);
        Tensor labels = Tensor.of(new long[] {9, 1, 4, IGNORE, 3, 3, IGNORE, 0}, 2, 4);
        GradCheck.check("causalLm", in -> CrossEntropy.causalLm(in[0], labels, IGNORE), logits);

        Tensor viewed = GradCheck.randn(3, 2, 4, 5);
        Tensor loss = CrossEntropy.causalLm(logits, labels, IGNORE);
        Tensor shifted = CrossEntropy.loss(viewed.narrow(1, 0, 3), labels.narrow(1, 1, 3), IGNORE);
        assertEquals(shifted.item(), loss.item(), 1e-12);
        logits.zeroGrad();
        loss.backward();
        shifted.backward();
        assertArrayEquals(viewed.grad().toDoubleArray(), logits.grad().toDoubleArray(), 1e-12);
        for (int v = 0; v < 5; v++) assertEquals(0.0, logits.grad().get(1, 3, v));
    }

    @Test
    void f32MatchesF64OnLargeShapesAndViews() {
        Random r = new Random(5);
        long[] targets = new long[64 * 3];
        for (int i = 0; i < targets.length; i++) targets[i] = i % 11 == 0 ? IGNORE : r.nextInt(389);
        Tensor t = Tensor.of(targets, 3, 64);
        Tensor x64 = GradCheck.randn(6, 3, 64, 389);
        Tensor x32 = x64.detach().to(DType.F32).requiresGrad(true);
        Tensor l64 = CrossEntropy.loss(x64, t, IGNORE), l32 = CrossEntropy.loss(x32, t, IGNORE);
        assertEquals(DType.F32, l32.dtype());
        assertEquals(l64.item(), l32.item(), 1e-5 * Math.abs(l64.item()));
        l64.backward();
        l32.backward();
        SoftmaxTest.assertClose("crossEntropy grad", x64.grad().toDoubleArray(), x32.grad().toDoubleArray());

        // Logits read through a permuted view ([64, 3, C] -> [3, 64, C]) give the same loss and gradient.
        Tensor stored = x64.detach().permute(1, 0, 2).contiguous().to(DType.F32).requiresGrad(true);
        Tensor lv = CrossEntropy.loss(stored.permute(1, 0, 2), t, IGNORE);
        assertEquals(l32.item(), lv.item(), 1e-6 * Math.abs(l32.item()));
        lv.backward();
        SoftmaxTest.assertClose("view grad", x32.grad().toDoubleArray(),
                stored.grad().permute(1, 0, 2).contiguous().toDoubleArray());

        Tensor labels = Tensor.of(targets, 3, 64);
        x64.zeroGrad();
        x32.zeroGrad();
        Tensor c64 = CrossEntropy.causalLm(x64, labels, IGNORE), c32 = CrossEntropy.causalLm(x32, labels, IGNORE);
        assertEquals(c64.item(), c32.item(), 1e-5 * Math.abs(c64.item()));
        Autograd.backward(c64);
        Autograd.backward(c32);
        SoftmaxTest.assertClose("causalLm grad", x64.grad().toDoubleArray(), x32.grad().toDoubleArray());
    }
}
