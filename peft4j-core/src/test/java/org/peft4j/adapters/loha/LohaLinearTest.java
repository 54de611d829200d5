package org.peft4j.adapters.loha;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.peft4j.adapters.AdaptedLinear;
import org.peft4j.adapters.AdapterContext;
import org.peft4j.adapters.composition.Composition;
import org.peft4j.autograd.GradMode;
import org.peft4j.nn.Linear;
import org.peft4j.ops.Elementwise;
import org.peft4j.tensor.Tensor;
import org.peft4j.testing.GradCheck;

class LohaLinearTest {
    /** A frozen F64 layer [out, in] with bias, adapter "a" active, LoHa factors of ranks r1 and r2. */
    static final class Fixture {
        final AdaptedLinear layer;
        final Tensor w1a, w1b, w2a, w2b;

        Fixture(int out, int in, int r1, int r2, double scaling, double rankDropout, double moduleDropout) {
            AdapterContext context = new AdapterContext();
            context.setActive(Composition.of("a"));
            layer = new AdaptedLinear(new Linear(GradCheck.randn(1, out, in).detach(), GradCheck.randn(2, out).detach()), context, 0);
            w1a = GradCheck.randn(3, out, r1);
            w1b = GradCheck.randn(4, r1, in);
            w2a = GradCheck.randn(5, out, r2);
            w2b = GradCheck.randn(6, r2, in);
            layer.container("hada_w1_a").registerParameter("a", w1a);
            layer.container("hada_w1_b").registerParameter("a", w1b);
            layer.container("hada_w2_a").registerParameter("a", w2a);
            layer.container("hada_w2_b").registerParameter("a", w2b);
            layer.add("a", new LohaLinear("a", scaling, rankDropout, moduleDropout, 7));
        }

        /** base(x) + x·ΔWᵀ from the merged-weight definition. */
        Tensor expected(Tensor x) {
            try (var s = GradMode.noGrad()) {
                Tensor delta = layer.adapters().get("a").deltaWeight(layer);
                return org.peft4j.ops.Linear.linear(x, Elementwise.add(layer.base().weight(), delta), layer.base().bias());
            }
        }
    }

    @Test
    void gradientsThroughFactoredPath() {
        // r1·r2·(in + out) = 2·16 < in·out = 63: the forward applies V then U.
        Fixture f = new Fixture(7, 9, 2, 1, 0.75, 0, 0);
        Tensor x = GradCheck.randn(8, 2, 3, 9);
        GradCheck.check("loha factored", in -> f.layer.forward(in[0]), x, f.w1a, f.w1b, f.w2a, f.w2b);
    }

    @Test
    void gradientsThroughDensePath() {
        // r1·r2·(in + out) = 4·8 ≥ 15: the forward builds ΔW.
        Fixture f = new Fixture(3, 5, 2, 2, 1.5, 0, 0);
        Tensor x = GradCheck.randn(8, 4, 5);
        GradCheck.check("loha dense", in -> f.layer.forward(in[0]), x, f.w1a, f.w1b, f.w2a, f.w2b);
    }

    @Test
    void forwardEqualsMergedWeight() {
        for (Fixture f : new Fixture[] {new Fixture(7, 9, 2, 1, 0.75, 0, 0), new Fixture(3, 5, 2, 2, 1.5, 0, 0)}) {
            Tensor x = GradCheck.randn(9, 2, 4, f.layer.inFeatures()).detach();
            assertTrue(GradCheck.relError(f.layer.forward(x).doubles(), f.expected(x).doubles()) < 1e-12);
        }
    }

    @Test
    void moduleDropoutSkipsTheUpdateOnlyInTraining() {
        Fixture f = new Fixture(7, 9, 2, 2, 1, 0, 1.0);
        Tensor x = GradCheck.randn(9, 3, 9).detach();
        Tensor base = f.layer.base().forward(x);
        f.layer.train(true);
        assertEquals(0, GradCheck.relError(f.layer.forward(x).doubles(), base.doubles()));
        f.layer.train(false);
        assertTrue(GradCheck.relError(f.layer.forward(x).doubles(), f.expected(x).doubles()) < 1e-12);
    }

    @Test
    void rankDropoutZeroesOutputFeaturesAndRescalesTheRest() {
        int out = 40;
        Fixture f = new Fixture(out, 9, 2, 2, 1, 0.5, 0);
        Tensor x = GradCheck.randn(9, 3, 9).detach();
        Tensor base = f.layer.base().forward(x);
        double[] full = Elementwise.sub(f.expected(x), base).doubles();
        f.layer.train(true);
        double[] dropped = Elementwise.sub(f.layer.forward(x), base).doubles();
        int kept = 0;
        double[] ratio = new double[out];
        for (int j = 0; j < out; j++) {
            ratio[j] = dropped[j] / full[j];
            if (Math.abs(ratio[j]) > 1e-9) kept++;
        }
        assertTrue(kept > 0 && kept < out, "some but not all features kept: " + kept);
        for (int row = 0; row < 3; row++) {
            for (int j = 0; j < out; j++) {
                double want = Math.abs(ratio[j]) > 1e-9 ? (double) out / kept : 0;
                assertEquals(want * full[row * out + j], dropped[row * out + j], 1e-9, "row " + row + " feature " + j);
            }
        }
    }

    @Test
    void zeroW2bIsANoOp() {
        Fixture f = new Fixture(7, 9, 2, 2, 3, 0, 0);
        f.w2b.copyFrom(Tensor.zeros(f.w2b.dtype(), f.w2b.shape()));
        Tensor x = GradCheck.randn(9, 3, 9).detach();
        assertEquals(0, GradCheck.relError(f.layer.forward(x).doubles(), f.layer.base().forward(x).doubles()));
    }
}
