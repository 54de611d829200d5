package org.peft4j.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.peft4j.optim.AdamWTest.GRADS;
import static org.peft4j.optim.AdamWTest.group;
import static org.peft4j.optim.AdamWTest.param;
import static org.peft4j.optim.AdamWTest.setGrad;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.tensor.Tensor;

class SgdTest {
    /** Runs the three GRADS steps from p = [1, -2] in F64 and F32 and checks both against {@code expected}. */
    private static void check(double[][] expected, double lr, double wd, double momentum, double dampening, boolean nesterov) {
        Tensor p64 = param(1.0, -2.0), p32 = param(1f, -2f);
        Sgd o64 = new Sgd(List.of(group("w", p64, lr, wd)), momentum, dampening, nesterov);
        Sgd o32 = new Sgd(List.of(group("w", p32, lr, wd)), momentum, dampening, nesterov);
        for (int t = 0; t < 3; t++) {
            setGrad(p64, GRADS[t]);
            setGrad(p32, GRADS[t]);
            o64.step();
            o32.step();
            assertArrayEquals(expected[t], p64.toDoubleArray(), 1e-12, "F64 after step " + (t + 1));
            assertArrayEquals(expected[t], p32.toDoubleArray(), 1e-6, "F32 after step " + (t + 1));
        }
    }

    /**
     * lr 0.1, momentum 0.9, weight decay 0.1 (coupled).
     * Step 1: d = g + 0.1·p = [0.6, −1.2]; b = d; p = [1 − 0.06, −2 + 0.12] = [0.94, −1.88].
     * Step 2: d = [0.1 + 0.094, 0.2 − 0.188] = [0.194, 0.012]; b = 0.9·b + d = [0.734, −1.068];
     * p = [0.8666, −1.7732].
     * Step 3: d = [−0.3 + 0.08666, 0.4 − 0.17732] = [−0.21334, 0.22268]; b = [0.44726, −0.73852];
     * p = [0.821874, −1.699348].
     */
    @Test
    void momentumWithWeightDecay() {
        check(new double[][] {{0.94, -1.88}, {0.8666, -1.7732}, {0.821874, -1.699348}}, 0.1, 0.1, 0.9, 0, false);
    }

    /** As above but p −= lr·(d + 0.9·b): step 1 d = [0.6, −1.2], b = d, p = [1 − 0.114, −2 + 0.228]. */
    @Test
    void nesterov() {
        check(new double[][] {{0.886, -1.772}, {0.801566, -1.679132}, {0.784319646, -1.637595292}}, 0.1, 0.1, 0.9, 0, true);
    }

    /**
     * Dampening 0.5, no decay: b₁ = g₁ = [0.5, −1] (the first buffer is not dampened), p = [0.95, −1.9];
     * b₂ = 0.9·b₁ + 0.5·g₂ = [0.5, −0.8], p = [0.9, −1.82]; b₃ = [0.3, −0.52], p = [0.87, −1.768].
     */
    @Test
    void dampening() {
        check(new double[][] {{0.95, -1.9}, {0.9, -1.82}, {0.87, -1.768}}, 0.1, 0, 0.9, 0.5, false);
    }

    @Test
    void plainSgdKeepsNoBuffer() {
        check(new double[][] {{0.95, -1.9}, {0.94, -1.92}, {0.97, -1.96}}, 0.1, 0, 0, 0, false);
        Tensor p = param(1.0, -2.0);
        Sgd opt = new Sgd(List.of(group("w", p, 0.1, 0)));
        setGrad(p, GRADS[0]);
        opt.step();
        assertEquals(java.util.Set.of("w.step"), opt.exportState().tensors().keySet());
    }

    @Test
    void exportImportResumesMomentum() {
        Tensor a = param(1.0, -2.0);
        Sgd first = new Sgd(List.of(group("w", a, 0.1, 0.1)), 0.9, 0, false);
        setGrad(a, GRADS[0]);
        first.step();
        OptimizerState state = first.exportState();
        Tensor b = param(a.toDoubleArray());
        Sgd second = new Sgd(List.of(group("w", b, 0.1, 0.1)), 0.9, 0, false);
        second.importState(state);
        for (int t = 1; t < 3; t++) {
            setGrad(a, GRADS[t]);
            setGrad(b, GRADS[t]);
            first.step();
            second.step();
        }
        assertArrayEquals(new double[] {0.821874, -1.699348}, b.toDoubleArray(), 1e-12);
        assertArrayEquals(a.toDoubleArray(), b.toDoubleArray(), 0);
    }

    @Test
    void rejectsNesterovWithoutMomentum() {
        Tensor p = param(1.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Sgd(List.of(group("w", p, 0.1, 0)), 0, 0, true));
        assertTrue(e.getMessage().contains("nesterov"), e.getMessage());
    }
}
